//! The sequence diagram of one failure: three lanes (client, ALB node, target), the drawn
//! events with their kinds and colours, a compressed time axis, and brackets labelling the timers
//! and gaps that matter.

use super::palette::{self, Kind};
use super::{esc, legend};
use crate::capture::PacketPos;
use crate::diagnose::metrics::RequestConns;
use crate::diagnose::{Analysis, Direction, EventKind, Evidence, Finding};
use crate::report::views;
use crate::report::words;
use crate::taxonomy::Category;
use std::fmt::Write as _;

fn kind(e: &EventKind) -> Kind {
    match e {
        EventKind::Syn { .. } | EventKind::SynAck { .. } => Kind::Syn,
        EventKind::Fin { .. } | EventKind::FinNotCaptured { .. } => Kind::Fin,
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

/// An event as the diagram draws it: one of the finding's timeline, the end of the previous
/// response on a reused back-end connection, or the ALB's give-up drawn where the capture ends
/// before it.
struct Drawn<'a> {
    /// Milliseconds from the request's first byte.
    rel_ms: f64,
    /// The finding's event; none for the drawn-only ones.
    event: Option<&'a crate::diagnose::TimelineEvent>,
    /// Its direction (none: a point on the ALB's lifeline).
    dir: Option<Direction>,
    /// What it draws as.
    kind: Kind,
    /// Its text.
    text: String,
}

impl Drawn<'_> {
    fn dir(&self) -> Option<Direction> {
        self.dir
    }
    fn packet(&self) -> Option<PacketPos> {
        self.event.and_then(|e| e.packet)
    }
}

fn color(k: Kind) -> &'static str {
    palette::kind(k)
}

/// Lane x positions: client, ALB, target.
const LANES: [f64; 3] = [210.0, 500.0, 790.0];
const WIDTH: f64 = 1180.0;
const TOP: f64 = 70.0;
/// How far an arrow's far end lies below (or above) the end the capture timed.
const SLANT: f64 = 12.0;

fn lanes_of(dir: Option<Direction>) -> Option<(usize, usize)> {
    match dir? {
        Direction::ClientToAlb => Some((0, 1)),
        Direction::AlbToClient => Some((1, 0)),
        Direction::AlbToTarget => Some((1, 2)),
        Direction::TargetToAlb => Some((2, 1)),
    }
}

/// The lane whose end of an arrow the capture timed: the ALB's, except where the capture was
/// taken at the targets (back end only) or at the clients (front end only).
fn timed_lane(v: crate::alb::Vantage, dir: Direction) -> usize {
    use crate::alb::Vantage;
    match (v, dir) {
        (Vantage::BackEndOnly, Direction::AlbToTarget | Direction::TargetToAlb) => 2,
        (Vantage::FrontEndOnly, Direction::ClientToAlb | Direction::AlbToClient) => 0,
        _ => 1,
    }
}

/// Vertical space for a gap: a compressed (log) scale, so 10 ms and 60 s both stay readable.
fn gap_px(gap_ms: f64) -> f64 {
    2.0 * SLANT + 14.0 + 26.0 * (1.0 + gap_ms.max(0.0)).log10()
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
                (e.event.is_some() || e.dir.is_none())
                    && matches!(
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

/// The timeline to draw: the finding's; before it the end of the previous response when the
/// request went out on a reused back-end connection (that response started the idle period);
/// after it the ALB's give-up at its timer when the capture ends before it (e.g. a connect
/// timeout seen from the target's ENI).
fn drawn_events<'a>(a: &Analysis, f: &'a Finding, idle: Option<&KeepAlive>) -> Vec<Drawn<'a>> {
    let mut ev: Vec<Drawn> = f
        .timeline
        .iter()
        .map(|e| Drawn {
            rel_ms: words::rel_ms(e.time, f.time),
            event: Some(e),
            dir: Some(e.direction),
            kind: kind(&e.kind),
            text: words::event(&e.kind),
        })
        .collect();
    if let Some(k) = idle {
        if let Some(i) = ev.iter().position(is_back_request) {
            let at = ev[i].rel_ms - k.idle_s * 1000.0;
            let which = k
                .number
                .filter(|n| *n > 1)
                .map(|n| format!(" (request #{})", n - 1))
                .unwrap_or_default();
            let pos = ev.iter().position(|e| e.rel_ms > at).unwrap_or(ev.len());
            ev.insert(
                pos,
                Drawn {
                    rel_ms: at,
                    event: None,
                    dir: Some(Direction::TargetToAlb),
                    kind: Kind::Other,
                    text: format!("previous response ended{which}"),
                },
            );
        }
    }
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
            dir: None,
            kind: Kind::Other,
            text: format!("ALB gives up ({what} timeout; not in the capture)"),
        });
    }
    ev
}

/// The request (or TLS data carrying it) the ALB sent to the target.
fn is_back_request(e: &Drawn) -> bool {
    e.event.is_some_and(|t| {
        t.direction == Direction::AlbToTarget
            && matches!(
                t.kind,
                EventKind::Request { .. } | EventKind::TlsData { .. }
            )
    })
}

/// The keep-alive facts of a request sent on a reused back-end connection.
struct KeepAlive {
    /// Idle seconds before the request.
    idle_s: f64,
    /// The request's 1-based number on the connection.
    number: Option<u32>,
    /// The target's keep-alive timeout (seconds), when known.
    target_s: Option<f64>,
}

/// The keep-alive facts of `f`, from its evidence (else its connections): none when the
/// request did not go out on a connection that had been idle.
fn keep_alive(a: &Analysis, f: &Finding, conns: Option<&RequestConns>) -> Option<KeepAlive> {
    let reuse = f.evidence.iter().find_map(|e| match e {
        Evidence::RequestSent { reuse: Some(r), .. } => Some(*r),
        _ => None,
    });
    let idle_s = reuse
        .and_then(|r| r.idle_before)
        .map(|d| d.as_secs_f64())
        .or_else(|| {
            conns
                .and_then(|c| c.back.as_ref())
                .filter(|b| b.reused)
                .and_then(|b| b.idle_before_s)
        })
        .filter(|x| *x >= 0.05)?;
    let target_s = f
        .evidence
        .iter()
        .find_map(|e| match e {
            Evidence::KeepaliveMatches { keepalive } => Some(keepalive.as_secs_f64()),
            _ => None,
        })
        .or_else(|| {
            a.targets
                .iter()
                .find(|t| Some(t.target) == f.target)
                .and_then(|t| t.keepalive_timeout)
                .map(|d| d.as_secs_f64())
        });
    Some(KeepAlive {
        idle_s,
        number: reuse.map(|r| r.number),
        target_s,
    })
}

/// Seconds for a label: `5 s`, `2.5 s`, `60 s`.
fn secs_words(s: f64) -> String {
    let r = (s * 10.0).round() / 10.0;
    if (r - r.round()).abs() < 1e-9 {
        format!("{r:.0} s")
    } else {
        format!("{r:.1} s")
    }
}

/// The race of a keep-alive race: the request to the target and the target's close that
/// crossed it, as indices into the drawn events.
fn race_pair(f: &Finding, ev: &[Drawn]) -> Option<(usize, usize)> {
    if f.category != Category::KeepaliveRace {
        return None;
    }
    let req = ev.iter().position(is_back_request)?;
    let close = ev.iter().position(|e| {
        e.event.is_some()
            && e.dir == Some(Direction::TargetToAlb)
            && matches!(e.kind, Kind::Fin | Kind::Rst)
    })?;
    (close.abs_diff(req) == 1).then_some((req.min(close), req.max(close)))
}

/// The SVG sequence diagram of one request; `uid` keeps its arrowhead ids apart from the other
/// diagrams' on the page.
pub(super) fn diagram(
    a: &Analysis,
    f: &Finding,
    conns: Option<&RequestConns>,
    uid: &str,
) -> String {
    let mut s = String::new();
    let ka = keep_alive(a, f, conns);
    let drawn = drawn_events(a, f, ka.as_ref());
    let ev = &drawn;
    let race = race_pair(f, ev);
    let mut y = TOP + 10.0 + SLANT;
    let mut ys = Vec::with_capacity(ev.len());
    let mut breaks: Vec<(f64, f64, f64)> = Vec::new();
    let mut prev: Option<f64> = None;
    for (i, e) in ev.iter().enumerate() {
        if let Some(p) = prev {
            let gap = e.rel_ms - p;
            // The race's two packets cross: their timed ends are closer than one slant.
            let dy = if race.is_some_and(|(_, b)| b == i) {
                2.0 * SLANT
            } else if race.is_some_and(|(_, b)| b + 1 == i) {
                gap_px(gap) + 2.0 * SLANT
            } else {
                gap_px(gap)
            };
            if gap >= 500.0 {
                breaks.push((y, y + dy, gap));
            }
            y += dy;
        }
        ys.push(y);
        prev = Some(e.rel_ms);
    }
    let legend_y = y + SLANT + 34.0;
    let bottom = y + SLANT + 14.0;
    let mut height = legend_y + 10.0;
    if ka.is_some() {
        height = height.max(ys.first().copied().unwrap_or(TOP) + 150.0);
    }
    let _ = write!(
        s,
        "<svg class=\"seq\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" \
         width=\"{WIDTH}\" height=\"{height:.0}\" role=\"img\" aria-label=\"sequence diagram of request {}\">",
        esc(&f.id.to_string())
    );
    let uid = esc(uid);
    s.push_str("<defs>");
    for c in palette::KIND_COLORS {
        let id = c.trim_start_matches('#');
        let _ = write!(
            s,
            "<marker id=\"ah{id}-{uid}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" \
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
    // Keep-alive idle band: from the end of the previous response to the request.
    let band = ka.as_ref().and_then(|_| {
        let top = ev
            .iter()
            .position(|e| e.event.is_none() && e.dir == Some(Direction::TargetToAlb))?;
        let req = ev.iter().position(is_back_request)?;
        Some((ys.get(top).copied()?, ys.get(req).copied()?))
    });
    if let (Some(k), Some((y0, y1))) = (&ka, band) {
        let (x1, x2) = (LANES[1], LANES[2]);
        let _ = write!(
            s,
            "<rect x=\"{x1:.0}\" y=\"{y0:.0}\" width=\"{:.0}\" height=\"{:.0}\" fill=\"#fef3c7\" opacity=\"0.7\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"600\" fill=\"#92400e\">{}</text>\
             <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#92400e\">(back-end connection idle, kept alive)</text>",
            x2 - x1,
            (y1 - y0).max(0.0),
            (x1 + x2) / 2.0,
            y0 + 30.0,
            esc(&format!("{} keep-alive idle", secs_words(k.idle_s))),
            (x1 + x2) / 2.0,
            y0 + 44.0,
        );
    }
    // Broken-axis markers for long gaps.
    for (y0, y1, gap) in &breaks {
        let mid = (y0 + y1) / 2.0 + 8.0;
        let _ = write!(
            s,
            "<path d=\"M70,{:.1} l14,-5 l14,5 M70,{:.1} l14,-5 l14,5\" stroke=\"#9ca3af\" fill=\"none\"/>\
             <text x=\"100\" y=\"{:.1}\" font-size=\"11\" fill=\"#6b7280\" font-style=\"italic\">{} later</text>",
            mid - 1.0,
            mid + 5.0,
            mid + 4.0,
            esc(&fmt_gap(*gap))
        );
        for x in LANES {
            let _ = write!(
                s,
                "<path d=\"M{:.0},{:.1} l6,-3 l-12,-3 l6,-3\" stroke=\"#9ca3af\" fill=\"#ffffff\"/>",
                x,
                mid + 5.0
            );
        }
    }
    // Events.
    let mut kinds = Vec::new();
    let mut race_lines: Vec<[f64; 4]> = Vec::new();
    for (i, e) in ev.iter().enumerate() {
        let yy = ys.get(i).copied().unwrap_or(TOP);
        let k = e.kind;
        kinds.push(k);
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
                .map(|p| format!(" (packet {p} in the capture file)"))
                .unwrap_or_default()
        );
        match (lanes_of(e.dir()), e.dir()) {
            (Some((from, to)), Some(dir)) => {
                let x1 = LANES[from];
                let x2 = LANES[to];
                let (sx, ex) = if x2 > x1 {
                    (x1 + 3.0, x2 - 3.0)
                } else {
                    (x1 - 3.0, x2 + 3.0)
                };
                // The timed end at the event's time; the other end a slant later or earlier
                // (steeper for the race, so that the crossing shows).
                let slant = if race.is_some_and(|(r0, r1)| i == r0 || i == r1) {
                    3.0 * SLANT
                } else {
                    SLANT
                };
                let (sy, ey) = if timed_lane(a.vantage, dir) == from {
                    (yy, yy + slant)
                } else {
                    (yy - slant, yy)
                };
                if slant > SLANT {
                    race_lines.push([sx, sy, ex, ey]);
                }
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
                    Some(p) => format!("{} · packet {}", truncate(text, 30), p),
                    None => truncate(text, 58),
                };
                // In the race the two labels go above and below the crossing.
                let (lx, ly, anchor) = match race {
                    Some((r0, _)) if r0 == i => (sx + 6.0 * (x2 - x1).signum(), sy - 5.0, "start"),
                    Some((_, r1)) if r1 == i => (ex + 6.0 * (x2 - x1).signum(), ey + 14.0, "end"),
                    _ => ((x1 + x2) / 2.0, sy.min(ey) - 4.0, "middle"),
                };
                let anchor = if anchor != "middle" && x2 < x1 {
                    if anchor == "start" {
                        "end"
                    } else {
                        "start"
                    }
                } else {
                    anchor
                };
                let _ = write!(
                    s,
                    "<g><title>{}</title><line x1=\"{sx:.0}\" y1=\"{sy:.1}\" x2=\"{ex:.0}\" y2=\"{ey:.1}\" \
                     stroke=\"{c}\" stroke-width=\"{width}\"{dash} marker-end=\"url(#ah{id}-{uid})\"/>\
                     <text x=\"{lx:.0}\" y=\"{ly:.1}\" text-anchor=\"{anchor}\" font-size=\"11\" fill=\"{c}\">{}</text></g>",
                    esc(&title),
                    esc(&label)
                );
            }
            _ => {
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
    // The race: where the request and the target's close crossed.
    if let Some((cx, cy)) = crossing(&race_lines) {
        let _ = write!(
            s,
            "<circle cx=\"{cx:.0}\" cy=\"{cy:.1}\" r=\"9\" fill=\"none\" stroke=\"#dc2626\" stroke-width=\"2\"/>\
             <text x=\"{:.0}\" y=\"{:.1}\" font-size=\"11.5\" font-weight=\"600\" fill=\"#dc2626\">crossed in flight: the target closed</text>\
             <text x=\"{:.0}\" y=\"{:.1}\" font-size=\"11.5\" font-weight=\"600\" fill=\"#dc2626\">as the request reached it</text>",
            LANES[2] + 14.0,
            cy + 6.0,
            LANES[2] + 14.0,
            cy + 20.0
        );
    }
    // Named timers, as brackets right of the target lane.
    let mut bx = LANES[2] + 30.0;
    if let (Some(k), Some((y0, y1))) = (&ka, band) {
        keep_alive_bracket(&mut s, a, f, k, bx, y0, y1);
        bx += 16.0;
    }
    for (n, b) in brackets(a, f, ev, &ys).iter().enumerate() {
        let x = bx + 16.0 * n as f64;
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
    legend::diagram_legend(&mut s, &kinds, height - 12.0, 20.0);
    s.push_str("</svg>");
    s
}

/// Where two drawn segments `[x1, y1, x2, y2]` cross, if they do.
fn crossing(lines: &[[f64; 4]]) -> Option<(f64, f64)> {
    let [a, b] = lines else { return None };
    let (dax, day) = (a[2] - a[0], a[3] - a[1]);
    let (dbx, dby) = (b[2] - b[0], b[3] - b[1]);
    let den = dax * dby - day * dbx;
    if den.abs() < 1e-9 {
        return None;
    }
    let t = ((b[0] - a[0]) * dby - (b[1] - a[1]) * dbx) / den;
    let u = ((b[0] - a[0]) * day - (b[1] - a[1]) * dax) / den;
    ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u)).then(|| (a[0] + t * dax, a[1] + t * day))
}

/// The bracket over the keep-alive idle period, with the target's keep-alive timeout against
/// the ALB's idle timeout, and both drawn to scale on one bar.
fn keep_alive_bracket(
    s: &mut String,
    a: &Analysis,
    f: &Finding,
    k: &KeepAlive,
    x: f64,
    y0: f64,
    y1: f64,
) {
    let alb_idle = views::secs(a.timers.idle_timeout);
    let racing = f.category == Category::KeepaliveRace;
    let color = if racing { "#b45309" } else { "#92400e" };
    let _ = write!(
        s,
        "<path d=\"M{:.0},{y0:.1} h6 V{y1:.1} h-6\" stroke=\"{color}\" stroke-width=\"2\" fill=\"none\"/>\
         <text x=\"{:.0}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"600\" fill=\"{color}\">{} idle before the request</text>",
        x - 6.0,
        x + 8.0,
        y0 + 16.0,
        esc(&secs_words(k.idle_s))
    );
    // The timers compared only where the target's close is the failure.
    let closed = racing || f.category == Category::TargetClosedBeforeResponse;
    let compare = match k.target_s {
        Some(t) if closed && t < alb_idle => Some((
            t,
            format!(
                "target keep-alive {} < ALB idle {}",
                secs_words(t),
                secs_words(alb_idle)
            ),
        )),
        None if racing && k.idle_s < alb_idle => Some((
            k.idle_s,
            format!(
                "target closed after {} idle < ALB idle {}",
                secs_words(k.idle_s),
                secs_words(alb_idle)
            ),
        )),
        _ => None,
    };
    let Some((t, words)) = compare else {
        return;
    };
    let _ = write!(
        s,
        "<text x=\"{:.0}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"700\" fill=\"#dc2626\">{}</text>",
        x + 8.0,
        y0 + 32.0,
        esc(&words)
    );
    // To scale: 0 .. the ALB idle timeout, the target's timeout marked on it.
    let (bx, bw, by) = (x + 8.0, 300.0, y0 + 44.0);
    let tx = bx + bw * (t / alb_idle).clamp(0.0, 1.0);
    let _ = write!(
        s,
        "<rect x=\"{bx:.0}\" y=\"{by:.0}\" width=\"{bw:.0}\" height=\"8\" fill=\"#e5e7eb\"/>\
         <rect x=\"{bx:.0}\" y=\"{by:.0}\" width=\"{:.1}\" height=\"8\" fill=\"#f59e0b\"/>\
         <text x=\"{tx:.1}\" y=\"{:.0}\" font-size=\"10\" fill=\"#92400e\">target closes at {}</text>\
         <text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\" font-size=\"10\" fill=\"#374151\">ALB closes at {}</text>\
         <text x=\"{bx:.0}\" y=\"{:.0}\" font-size=\"10\" fill=\"#6b7280\">(to scale: the target closes idle connections long before the ALB)</text>",
        (tx - bx).max(1.0),
        by + 19.0,
        esc(&secs_words(t)),
        bx + bw,
        by + 31.0,
        esc(&secs_words(alb_idle)),
        by + 44.0
    );
}

fn rel(ms: f64) -> String {
    words::rel(crate::capture::Duration::from_secs_f64(ms / 1000.0))
}
