//! The sequence diagram of one failure: three lanes (client, ALB node, target), the drawn
//! events with their kinds and colours, a compressed time axis, and brackets labelling the timers
//! and gaps that matter.

use super::esc;
use crate::capture::PacketPos;
use crate::diagnose::metrics::RequestConns;
use crate::diagnose::{Analysis, Direction, EventKind, Finding};
use crate::report::views;
use crate::report::words;
use crate::taxonomy::Category;
use std::fmt::Write as _;

/// What an event draws as.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Kind {
    Syn,
    Fin,
    Rst,
    Icmp,
    Tls,
    Request,
    Response(u16),
    Other,
}

fn kind(e: &EventKind) -> Kind {
    match e {
        EventKind::Syn { .. } | EventKind::SynAck { .. } => Kind::Syn,
        EventKind::Fin { .. } => Kind::Fin,
        EventKind::Rst { .. } => Kind::Rst,
        EventKind::Icmp { .. } => Kind::Icmp,
        EventKind::TlsData { .. }
        | EventKind::ClientHello { .. }
        | EventKind::ServerHello { .. }
        | EventKind::TlsAlert { .. } => Kind::Tls,
        EventKind::Response { status, .. } | EventKind::Interim { status } => {
            Kind::Response(*status)
        }
        EventKind::Request { .. } => Kind::Request,
        EventKind::BodyIncomplete { .. }
        | EventKind::MalformedResponse { .. }
        | EventKind::HeaderTooLarge { .. }
        | EventKind::ResponseMissing
        | EventKind::Retransmission { .. }
        | EventKind::Gap { .. }
        | EventKind::MemorySkipped { .. }
        | EventKind::Conflict { .. }
        | EventKind::MoreEvents { .. }
        | EventKind::StreamReset { .. }
        | EventKind::GoAway { .. }
        | EventKind::FlowStall { .. }
        | EventKind::Grpc { .. } => Kind::Other,
    }
}

/// True for the events drawn dashed: repeats of something sent before.
fn is_repeat(e: &EventKind) -> bool {
    matches!(
        e,
        EventKind::Syn {
            retransmission: Some(_)
        } | EventKind::SynAck {
            retransmission: Some(_)
        } | EventKind::Retransmission { .. }
            | EventKind::Conflict { .. }
    )
}

/// An event as the diagram draws it: one of the finding's timeline, or the ALB's give-up
/// drawn where the capture ends before it.
struct Drawn<'a> {
    /// Milliseconds from the request's first byte.
    rel_ms: f64,
    /// The finding's event; none for the inferred give-up.
    event: Option<&'a crate::diagnose::TimelineEvent>,
    /// What it draws as.
    kind: Kind,
    /// Its text.
    text: String,
}

impl Drawn<'_> {
    fn dir(&self) -> Option<Direction> {
        self.event.map(|e| e.direction)
    }
    fn packet(&self) -> Option<PacketPos> {
        self.event.and_then(|e| e.packet)
    }
}

fn color(k: Kind) -> &'static str {
    match k {
        Kind::Syn => "#6b7280",
        Kind::Fin => "#d97706",
        Kind::Rst => "#dc2626",
        Kind::Icmp => "#7c3aed",
        Kind::Tls => "#0d9488",
        Kind::Request => "#2563eb",
        Kind::Response(c) if c >= 500 => "#dc2626",
        Kind::Response(c) if c >= 400 => "#ca8a04",
        Kind::Response(_) => "#16a34a",
        Kind::Other => "#4b5563",
    }
}

const COLORS: [&str; 8] = [
    "#6b7280", "#d97706", "#dc2626", "#7c3aed", "#0d9488", "#2563eb", "#ca8a04", "#16a34a",
];
const COLORS_OTHER: &str = "#4b5563";

/// Lane x positions: client, ALB, target.
const LANES: [f64; 3] = [210.0, 500.0, 790.0];
const WIDTH: f64 = 1180.0;
const TOP: f64 = 70.0;

fn lanes_of(dir: Option<Direction>) -> Option<(usize, usize)> {
    match dir? {
        Direction::ClientToAlb => Some((0, 1)),
        Direction::AlbToClient => Some((1, 0)),
        Direction::AlbToTarget => Some((1, 2)),
        Direction::TargetToAlb => Some((2, 1)),
    }
}

/// Vertical space for a gap: a compressed (log) scale, so 10 ms and 60 s both stay readable.
fn gap_px(gap_ms: f64) -> f64 {
    24.0 + 26.0 * (1.0 + gap_ms.max(0.0)).log10()
}

fn fmt_gap(ms: f64) -> String {
    views::dur(Some(ms / 1000.0))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{t}…")
    }
}

struct Bracket {
    from_y: f64,
    to_y: f64,
    label: String,
    color: &'static str,
}

fn near(x: f64, target: f64) -> bool {
    (x - target).abs() <= (target * 0.03).max(1.5)
}

/// Finds the timer spans worth naming on the diagram.
fn brackets(a: &Analysis, f: &Finding, ev: &[Drawn], ys: &[f64]) -> Vec<Bracket> {
    let y = |i: usize| ys.get(i).copied().unwrap_or(TOP);
    let mut out = Vec::new();
    let alb_gives_up = |e: &Drawn| {
        let k = e.kind;
        match e.dir() {
            None => true,
            Some(Direction::AlbToTarget) => matches!(k, Kind::Fin | Kind::Rst),
            Some(Direction::AlbToClient) => {
                matches!(k, Kind::Response(c) if c >= 500) || matches!(k, Kind::Fin | Kind::Rst)
            }
            Some(_) => false,
        }
    };
    let to_target = |e: &Drawn, what: fn(&EventKind) -> bool| {
        e.event
            .is_some_and(|t| t.direction == Direction::AlbToTarget && what(&t.kind))
    };
    // Connect timeout: first SYN to the target -> the ALB giving up.
    let connect = views::secs(a.timers.connect_timeout);
    if let Some(i) = ev.iter().position(|e| {
        to_target(e, |k| {
            matches!(
                k,
                EventKind::Syn {
                    retransmission: None
                }
            )
        })
    }) {
        if let Some(j) = (i + 1..ev.len()).find(|&j| ev.get(j).is_some_and(alb_gives_up)) {
            let dt = (ev[j].rel_ms - ev[i].rel_ms) / 1000.0;
            if near(dt, connect) {
                out.push(Bracket {
                    from_y: y(i),
                    to_y: y(j),
                    label: format!("{dt:.0} s connect timeout"),
                    color: "#dc2626",
                });
            }
        }
    }
    // TLS handshake timeout: ClientHello -> the ALB giving up.
    if let Some(i) = ev
        .iter()
        .position(|e| to_target(e, |k| matches!(k, EventKind::ClientHello { .. })))
    {
        if let Some(j) = (i + 1..ev.len()).find(|&j| ev.get(j).is_some_and(alb_gives_up)) {
            let dt = (ev[j].rel_ms - ev[i].rel_ms) / 1000.0;
            if near(dt, crate::alb::TLS_HANDSHAKE_TIMEOUT.as_secs_f64()) {
                out.push(Bracket {
                    from_y: y(i),
                    to_y: y(j),
                    label: format!("{dt:.0} s TLS handshake timeout"),
                    color: "#dc2626",
                });
            }
        }
    }
    // Idle timeout / deregistration: last data sent or received -> the ALB giving up.
    let idle = views::secs(a.timers.idle_timeout);
    if let Some(j) = ev.iter().position(alb_gives_up) {
        let start = (0..j).rev().find(|&i| {
            ev.get(i).is_some_and(|e| {
                matches!(
                    e.kind,
                    Kind::Request | Kind::Response(_) | Kind::Other | Kind::Tls
                )
            })
        });
        if let Some(i) = start {
            let dt = (ev[j].rel_ms - ev[i].rel_ms) / 1000.0;
            if near(dt, idle) {
                out.push(Bracket {
                    from_y: y(i),
                    to_y: y(j),
                    label: format!("{dt:.1} s idle timeout"),
                    color: "#dc2626",
                });
            } else if f.category == Category::DeregistrationAbort && dt >= 1.0 {
                out.push(Bracket {
                    from_y: y(i),
                    to_y: y(j),
                    label: format!("{dt:.1} s until the ALB closed (deregistration delay)"),
                    color: "#d97706",
                });
            }
        }
    }
    // The client giving up.
    if f.category == Category::ClientClosed {
        let req = ev
            .iter()
            .position(|e| e.dir() == Some(Direction::ClientToAlb) && e.kind != Kind::Syn);
        if let Some(i) = req {
            if let Some(j) = (i + 1..ev.len()).find(|&j| {
                ev.get(j).is_some_and(|e| {
                    e.dir() == Some(Direction::ClientToAlb)
                        && matches!(e.kind, Kind::Fin | Kind::Rst)
                })
            }) {
                let dt = (ev[j].rel_ms - ev[i].rel_ms) / 1000.0;
                out.push(Bracket {
                    from_y: y(i),
                    to_y: y(j),
                    label: format!("{dt:.1} s until the client gave up"),
                    color: "#d97706",
                });
            }
        }
    }
    out
}

/// Which events start a timer.
type EventTest = fn(&EventKind) -> bool;

/// Direction named in the title of a drawn-only event the capture does not show (the ALB's
/// give-up when only the target's side was captured).
const INFERRED: &str = "inferred";

/// The SVG sequence diagram of one request.
/// The timeline to draw: the finding's, plus the ALB's give-up at its timer when the capture
/// ends before it (e.g. a connect timeout seen from the target's ENI).
fn drawn_events<'a>(a: &Analysis, f: &'a Finding) -> Vec<Drawn<'a>> {
    let mut ev: Vec<Drawn> = f
        .timeline
        .iter()
        .map(|e| Drawn {
            rel_ms: words::rel_ms(e.time, f.time),
            event: Some(e),
            kind: kind(&e.kind),
            text: words::event(&e.kind),
        })
        .collect();
    let timer: Option<(EventTest, f64, &str)> = match f.category {
        Category::TargetConnectTimeout => Some((
            |k| matches!(k, EventKind::Syn { .. }),
            views::secs(a.timers.connect_timeout),
            "connect",
        )),
        Category::TargetTlsHandshakeTimeout => Some((
            |k| matches!(k, EventKind::ClientHello { .. }),
            crate::alb::TLS_HANDSHAKE_TIMEOUT.as_secs_f64(),
            "TLS handshake",
        )),
        _ => None,
    };
    let Some((start, secs, what)) = timer else {
        return ev;
    };
    let Some(first) = ev.iter().find(|e| {
        e.event
            .is_some_and(|t| t.direction == Direction::AlbToTarget && start(&t.kind))
    }) else {
        return ev;
    };
    let at = first.rel_ms + secs * 1000.0;
    let last = ev.iter().map(|e| e.rel_ms).fold(f64::MIN, f64::max);
    if last < at - 500.0 {
        ev.push(Drawn {
            rel_ms: at,
            event: None,
            kind: Kind::Other,
            text: format!("ALB gives up ({what} timeout; not in the capture)"),
        });
    }
    ev
}

pub(super) fn diagram(a: &Analysis, f: &Finding, conns: Option<&RequestConns>) -> String {
    let mut s = String::new();
    let drawn = drawn_events(a, f);
    let ev = &drawn;
    // Keep-alive idle before the request on a reused back-end connection.
    let ka_idle = conns
        .and_then(|c| c.back.as_ref())
        .filter(|b| b.reused)
        .and_then(|b| b.idle_before_s)
        .filter(|x| *x >= 0.05);
    let mut y = TOP + 10.0;
    let ka_top = y;
    if let Some(idle) = ka_idle {
        y += gap_px(idle * 1000.0).max(50.0);
    }
    let mut ys = Vec::with_capacity(ev.len());
    let mut breaks: Vec<(f64, f64, f64)> = Vec::new();
    let mut prev: Option<f64> = None;
    for e in ev {
        if let Some(p) = prev {
            let gap = e.rel_ms - p;
            let dy = gap_px(gap);
            if gap >= 500.0 {
                breaks.push((y, y + dy, gap));
            }
            y += dy;
        }
        ys.push(y);
        prev = Some(e.rel_ms);
    }
    let bottom = y + 40.0;
    let height = bottom + 10.0;
    let _ = write!(
        s,
        "<svg class=\"seq\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" \
         width=\"{WIDTH}\" height=\"{height:.0}\" role=\"img\" aria-label=\"sequence diagram of request {}\">",
        esc(&f.id.to_string())
    );
    s.push_str("<defs>");
    for c in COLORS.iter().chain(std::iter::once(&COLORS_OTHER)) {
        let id = c.trim_start_matches('#');
        let _ = write!(
            s,
            "<marker id=\"ah{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" \
             markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{c}\"/></marker>"
        );
    }
    s.push_str("</defs>");
    // Lanes.
    let client_seen = f.client.is_some();
    let names = [
        if client_seen {
            format!(
                "client {}",
                f.client.map_or(String::new(), |c| c.to_string())
            )
        } else {
            "client (not captured)".into()
        },
        format!(
            "ALB node {}",
            f.alb.map_or("?".to_string(), |a| a.to_string())
        ),
        match &f.target {
            Some(t) => format!("target {t}"),
            None if a.vantage == crate::alb::Vantage::FrontEndOnly => {
                "target (not captured)".into()
            }
            None => "target (no attempt seen)".into(),
        },
    ];
    let target_seen = f.target.is_some();
    for (i, x) in LANES.iter().enumerate() {
        let name = names.get(i).map(String::as_str).unwrap_or("");
        let _ = write!(
            s,
            "<rect x=\"{:.0}\" y=\"14\" width=\"240\" height=\"30\" rx=\"5\" fill=\"#f3f4f6\" stroke=\"#9ca3af\"/>\
             <text x=\"{x:.0}\" y=\"34\" text-anchor=\"middle\" font-size=\"12.5\" font-weight=\"600\" fill=\"#111827\">{}</text>\
             <line x1=\"{x:.0}\" y1=\"44\" x2=\"{x:.0}\" y2=\"{bottom:.0}\" stroke=\"#9ca3af\" stroke-width=\"1.5\"{}/>",
            x - 120.0,
            esc(&truncate(name, 34)),
            if (i == 0 && !client_seen) || (i == 2 && !target_seen) {
                " stroke-dasharray=\"4 4\""
            } else {
                ""
            }
        );
    }
    // Time axis.
    let _ = write!(
        s,
        "<text x=\"80\" y=\"62\" text-anchor=\"end\" font-size=\"10.5\" fill=\"#6b7280\">time</text>\
         <line x1=\"84\" y1=\"50\" x2=\"84\" y2=\"{bottom:.0}\" stroke=\"#e5e7eb\" stroke-width=\"1\"/>"
    );
    // Broken-axis markers for long gaps.
    for (y0, y1, gap) in &breaks {
        let mid = (y0 + y1) / 2.0;
        let _ = write!(
            s,
            "<rect x=\"60\" y=\"{:.0}\" width=\"{:.0}\" height=\"10\" fill=\"#ffffff\"/>\
             <path d=\"M70,{:.1} l14,-5 l14,5 M70,{:.1} l14,-5 l14,5\" stroke=\"#9ca3af\" fill=\"none\"/>\
             <text x=\"100\" y=\"{:.1}\" font-size=\"11\" fill=\"#6b7280\" font-style=\"italic\">{} later</text>",
            mid - 5.0,
            WIDTH - 120.0,
            mid - 1.0,
            mid + 5.0,
            mid + 4.0,
            esc(&fmt_gap(*gap))
        );
        for x in LANES {
            let _ = write!(
                s,
                "<path d=\"M{:.0},{:.1} l6,-3 l-12,-3 l6,-3\" stroke=\"#9ca3af\" fill=\"none\"/>",
                x,
                mid + 5.0
            );
        }
    }
    // Keep-alive idle band.
    if let Some(idle) = ka_idle {
        let (x1, x2) = (LANES[1], LANES[2]);
        let _ = write!(
            s,
            "<rect x=\"{x1:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{:.0}\" fill=\"#fef3c7\" opacity=\"0.7\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"600\" fill=\"#92400e\">{}</text>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#92400e\">(back-end connection idle before this request)</text>",
            ka_top,
            x2 - x1,
            ys.first().copied().unwrap_or(ka_top + 40.0) - ka_top - 14.0,
            (x1 + x2) / 2.0,
            ka_top + 18.0,
            esc(&format!("{idle:.1} s keep-alive idle")),
            (x1 + x2) / 2.0,
            ka_top + 33.0,
        );
    }
    // Events.
    for (i, e) in ev.iter().enumerate() {
        let yy = ys.get(i).copied().unwrap_or(TOP);
        let k = e.kind;
        let c = color(k);
        let id = c.trim_start_matches('#');
        let _ = write!(
            s,
            "<text x=\"80\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"10.5\" fill=\"#6b7280\">{}</text>",
            yy + 3.5,
            esc(&rel(e.rel_ms))
        );
        let packet = e.packet().map(|p| words::packet(&a.inputs, p));
        let title = format!(
            "{} {} {}{}",
            e.event.map_or(String::new(), |t| words::time(t.time)),
            e.dir().map_or(INFERRED, words::direction),
            e.text,
            packet
                .as_ref()
                .map(|p| format!(" (packet {p})"))
                .unwrap_or_default()
        );
        match lanes_of(e.dir()) {
            Some((from, to)) => {
                let x1 = LANES[from];
                let x2 = LANES[to];
                let (sx, ex) = if x2 > x1 {
                    (x1 + 3.0, x2 - 3.0)
                } else {
                    (x1 - 3.0, x2 + 3.0)
                };
                let dash = if e.event.is_some_and(|t| is_repeat(&t.kind)) {
                    " stroke-dasharray=\"5 3\""
                } else {
                    ""
                };
                let width = if matches!(k, Kind::Request | Kind::Response(_)) {
                    2.2
                } else {
                    1.6
                };
                // The Host header is in the facts above; keep arrow labels short.
                let text = match e.event {
                    Some(t) if k == Kind::Request => words::event_without_host(&t.kind),
                    _ => e.text.clone(),
                };
                let text = text.as_str();
                let label = match &packet {
                    Some(p) => format!("{} {}", truncate(text, 34), p),
                    None => truncate(text, 46),
                };
                let _ = write!(
                    s,
                    "<g><title>{}</title><line x1=\"{sx:.0}\" y1=\"{yy:.1}\" x2=\"{ex:.0}\" y2=\"{yy:.1}\" \
                     stroke=\"{c}\" stroke-width=\"{width}\"{dash} marker-end=\"url(#ah{id})\"/>\
                     <text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{c}\">{}</text></g>",
                    esc(&title),
                    (x1 + x2) / 2.0,
                    yy - 4.5,
                    esc(&label)
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<g><title>{}</title><circle cx=\"{:.0}\" cy=\"{yy:.1}\" r=\"4\" fill=\"{c}\"/>\
                     <text x=\"{:.0}\" y=\"{:.1}\" font-size=\"11\" fill=\"{c}\">{}</text></g>",
                    esc(&title),
                    LANES[1],
                    LANES[1] + 8.0,
                    yy + 4.0,
                    esc(&truncate(&e.text, 50))
                );
            }
        }
    }
    // Named timers, as brackets right of the target lane.
    for (n, b) in brackets(a, f, ev, &ys).iter().enumerate() {
        let x = LANES[2] + 30.0 + 16.0 * n as f64;
        let _ = write!(
            s,
            "<path d=\"M{:.0},{:.1} h6 V{:.1} h-6\" stroke=\"{}\" stroke-width=\"2\" fill=\"none\"/>\
             <text x=\"{:.0}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"600\" fill=\"{}\">{}</text>",
            x - 6.0,
            b.from_y,
            b.to_y,
            b.color,
            x + 8.0,
            (b.from_y + b.to_y) / 2.0 + 4.0,
            b.color,
            esc(&b.label)
        );
    }
    if ev.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#6b7280\">no packets of this request in the capture</text>",
            LANES[1],
            TOP + 20.0
        );
    }
    s.push_str("</svg>");
    s
}

fn rel(ms: f64) -> String {
    words::rel(crate::capture::Duration::from_secs_f64(ms / 1000.0))
}
