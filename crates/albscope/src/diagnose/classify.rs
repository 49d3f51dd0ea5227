//! The taxonomy rules: one [`RequestPath`] in, one [`Finding`] out.

use super::fix::fix_for;
use super::model::{AccessLogView, AlbAddr, LegKind, RequestId, RequestSeen, Step};
use super::timeline::build_timeline;
use super::{packet_ref, round3, Category, Finding, GeneratedBy};
use crate::alb::{Knowledge, Leg, RequestPath, Vantage, TLS_HANDSHAKE_TIMEOUT};
use crate::capture::{Duration, PacketPos, Timestamp};
use crate::flow::{Dir, TcpEvent, TcpEventKind};
use crate::protocol::{header, HttpResponse, ResponseErrorKind};

/// How close the target's close must be to the request to call it a keep-alive race.
const RACE_WINDOW: Duration = Duration(100_000_000);
/// How far before the request a target FIN may come and still count as racing it.
const RACE_LOOKBACK: Duration = Duration(1_000_000_000);

/// What the back-end leg shows.
pub(super) struct BackVerdict {
    pub category: Category,
    pub evidence: Vec<String>,
    /// The target's relayed status, when it answered in time.
    pub target_status: Option<u16>,
    /// What the client should have got.
    pub expected_status: Option<u16>,
    /// Headline clause.
    pub what: String,
    /// Facts for the fix line.
    pub detail: FixDetail,
}

/// Facts a fix line may quote.
#[derive(Default, Clone)]
pub(super) struct FixDetail {
    /// Target `ip:port`.
    pub target: Option<String>,
    /// Target port.
    pub port: Option<u16>,
    /// Target Server header.
    pub server: Option<String>,
    /// Target X-Powered-By header.
    pub powered_by: Option<String>,
    /// ALB idle timeout, seconds.
    pub idle_s: f64,
    /// Keep-alive timeout seen for the target, seconds.
    pub keepalive_s: Option<f64>,
    /// Extra words (ICMP text, TLS offer, byte counts).
    pub extra: Option<String>,
    /// Connect timeout from the target's vantage (SYN-ACK sent, SYN retransmitted).
    pub return_path_blocked: bool,
    /// Trace id.
    pub trace_id: Option<String>,
}

struct Ctx<'a> {
    known: &'a Knowledge,
    files: &'a [String],
    idle: Duration,
}

impl Ctx<'_> {
    fn pk(&self, pos: PacketPos) -> String {
        packet_ref(self.files, pos)
    }
    fn at(&self, ts: Timestamp, pos: PacketPos) -> String {
        format!("packet {} at {}", self.pk(pos), ts.to_rfc3339())
    }
}

/// A duration for people: `60 s` when whole, `12.3 ms` under a second, else `5.002 s`.
fn secs(d: Duration) -> String {
    if d.0 % 1_000_000_000 == 0 {
        format!("{} s", d.0 / 1_000_000_000)
    } else if d.0.unsigned_abs() < 1_000_000_000 {
        ms(d)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn events(leg: &Leg) -> &[TcpEvent] {
    leg.record
        .as_ref()
        .map(|r| r.tcp.events.as_slice())
        .unwrap_or(&[])
}

fn is_close(e: &TcpEvent) -> bool {
    matches!(e.kind, TcpEventKind::Fin | TcpEventKind::Rst)
}

fn close_name(e: &TcpEvent) -> &'static str {
    if matches!(e.kind, TcpEventKind::Rst) {
        "RST"
    } else {
        "FIN"
    }
}

/// The request time and first response-byte time of a back-end leg.
fn back_times(b: &Leg) -> (Option<Timestamp>, Option<(Timestamp, PacketPos)>) {
    if let Some(ex) = &b.exchange {
        let req = ex.request.as_ref().map(|r| r.first_byte);
        let resp = ex
            .response
            .as_ref()
            .map(|r| (r.first_byte, r.first_pos))
            .or(ex
                .response_error
                .as_ref()
                .map(|e| (e.first_byte, e.first_pos)));
        return (req, resp);
    }
    if let Some(bx) = &b.burst {
        return (
            Some(bx.request.first),
            bx.response.as_ref().map(|r| (r.first, r.first_pos)),
        );
    }
    (None, None)
}

/// Diagnoses one request path.
pub fn diagnose(path: &RequestPath, known: &Knowledge, files: &[String]) -> Finding {
    let mut finding = diagnose_untimed(path, known, files);
    finding.timeline = timeline(path);
    finding
}

/// The events of both legs of a request on one clock (the [`Finding::timeline`]).
pub(super) fn timeline(path: &RequestPath) -> Vec<super::TimelineEvent> {
    build_timeline(path)
}

/// [`diagnose`] without the timeline, the costliest part to write: a request that is only
/// counted does not need it.
pub(super) fn diagnose_untimed(path: &RequestPath, known: &Knowledge, files: &[String]) -> Finding {
    let (idle, _) = known.idle_timeout();
    let ctx = Ctx { known, files, idle };
    let front = path.front.as_ref();
    let back = path.back.as_ref();
    let mut notes = path.notes.clone();

    let back_verdict = back.map(|b| analyze_back(b, &ctx));
    let front_resp = front
        .and_then(|f| f.exchange.as_ref())
        .and_then(|e| e.response.as_ref());
    let front_partial = front
        .and_then(|f| f.exchange.as_ref())
        .and_then(|e| e.response_error.as_ref())
        .and_then(|e| partial_response(&e.excerpt));
    let front_status = front_resp
        .map(|r| r.status)
        .or(front_partial.as_ref().map(|p| p.0));
    let front_server = front_resp
        .and_then(|r| header(&r.headers, "server"))
        .or(front_partial.as_ref().and_then(|p| p.1.as_deref()));
    let front_is_lb = front_server.is_some_and(|s| s.starts_with("awselb"));
    let client_closed = front.and_then(|f| client_closed_at(f, &ctx));

    let mut evidence = Vec::new();
    let (mut category, what, mut detail, target_status, expected) = match (&back_verdict, front) {
        (Some(v), _) => {
            evidence.extend(v.evidence.iter().cloned());
            (
                v.category,
                v.what.clone(),
                v.detail.clone(),
                v.target_status,
                v.expected_status,
            )
        }
        (None, Some(f)) => {
            let (c, w, ev) = analyze_front_only(f, &ctx, front_status, front_is_lb);
            evidence.extend(ev);
            let seen_idle = (c == Category::TargetIdleTimeout)
                .then(|| front_elapsed(f))
                .flatten();
            let detail = FixDetail {
                idle_s: seen_idle.unwrap_or(idle).as_secs_f64().round(),
                ..FixDetail::default()
            };
            (c, w, detail, None, None)
        }
        (None, None) => (
            Category::Undetermined,
            "nothing captured".to_string(),
            FixDetail::default(),
            None,
            None,
        ),
    };
    let mut what = what;

    // The client closing first overrides what the back end shows: the ALB never answered.
    let mut front_status = front_status;
    if let Some(ev) = client_closed {
        category = Category::ClientClosed;
        what = "the client closed its connection before the ALB answered".into();
        evidence.insert(0, ev);
        front_status = None;
    }

    // The status the client got: what the front end shows, else inferred from the back end.
    let (status, status_inferred) = match (front_status, front, category) {
        (Some(s), _, _) => (Some(s), false),
        (None, _, Category::ClientClosed) => (None, false),
        // The client's answer is not in the capture although the client did not leave: what
        // the back end shows is what it got.
        (None, Some(f), _) if f.exchange.is_some() && !front_answer_missing(f) => (None, false),
        (None, _, _) => (expected, expected.is_some()),
    };

    // The target answered normally but the client got the ALB's own error: the capture does
    // not show why (say so rather than call it ok).
    if category == Category::Ok && front_is_lb && front_status.is_some_and(|s| s >= 500) {
        category = Category::Undetermined;
        what = format!(
            "the target answered {} but the ALB sent its own error",
            target_status.map_or("?".to_string(), |s| s.to_string())
        );
        evidence.push(
            "the ALB replaced a normal target response with its own error; the capture does \
             not show why (a limit the parser did not see?)"
                .into(),
        );
    }

    // Idle timeout vs deregistration: the ALB's own answer decides when it was captured.
    if let Some(s) = front_status {
        if category == Category::DeregistrationAbort && s == 504 {
            category = Category::TargetIdleTimeout;
            what = format!(
                "the target did not answer before the ALB idle timeout ({})",
                secs(idle)
            );
        } else if category == Category::TargetIdleTimeout && s == 502 {
            category = Category::DeregistrationAbort;
            what = "the ALB aborted the request while the target was still working \
                    (deregistration delay ran out)"
                .into();
        }
    }
    let expected = match category {
        Category::TargetIdleTimeout => Some(504),
        Category::DeregistrationAbort => Some(502),
        _ => expected,
    };
    if let (Some(s), Some(e)) = (front_status, expected) {
        if s != e && category != Category::Ok && category != Category::TargetGeneratedError {
            notes.push(format!(
                "the client got {s} where this category usually gives {e}"
            ));
        }
    }

    let (status, status_inferred) = if category == Category::IncompleteBody {
        if let Some(s) = front_status.or(expected) {
            evidence.push(format!(
                "the client got the target's {s} headers and part of the body, then the \
                 connection was closed: no complete response"
            ));
        }
        (None, false)
    } else {
        (status, status_inferred)
    };
    let generated_by = match category {
        Category::IncompleteBody => Some(GeneratedBy::Lb),
        Category::ClientClosed => None,
        Category::Ok | Category::TargetGeneratedError => {
            if front_is_lb {
                Some(GeneratedBy::Lb)
            } else if status.is_some() || target_status.is_some() {
                Some(GeneratedBy::Target)
            } else {
                None
            }
        }
        Category::Undetermined => match (status, front_is_lb) {
            (Some(_), true) => Some(GeneratedBy::Lb),
            _ => None,
        },
        _ => status.map(|_| GeneratedBy::Lb),
    };

    let trace_id = back
        .and_then(|b| b.request_header("x-amzn-trace-id"))
        .or(front.and_then(|f| f.request_header("x-amzn-trace-id")))
        .map(str::to_string);
    detail.trace_id = trace_id.clone();
    if detail.server.is_none() {
        detail.server = back
            .and_then(|b| b.response_header("server"))
            .or(if front_is_lb { None } else { front_server })
            .map(str::to_string);
    }
    let access_log = access_log(path, &ctx, category, status, target_status, &trace_id);
    let req = front
        .and_then(|f| f.exchange.as_ref())
        .and_then(|e| e.request.as_ref())
        .or(back
            .and_then(|b| b.exchange.as_ref())
            .and_then(|e| e.request.as_ref()));
    let first = front.or(back);
    let start = first.map(|l| l.time()).unwrap_or_default();
    let headline = headline(status, status_inferred, generated_by, &what, category);
    let fix = fix_for(category, &detail);
    let request_seen = match req {
        Some(r) => RequestSeen::Http {
            method: r.method.clone(),
            target: r.target.clone(),
            host: header(&r.headers, "host").map(str::to_string),
        },
        None if front.is_some_and(|f| f.burst.is_some()) => RequestSeen::Encrypted {
            bytes: front
                .and_then(|f| f.burst.as_ref())
                .map_or(0, |b| b.request.bytes),
        },
        None if back.is_some_and(|b| b.exchange.is_none() && b.burst.is_none()) => {
            RequestSeen::NoneSent
        }
        None => RequestSeen::NotReadable,
    };
    let id = match (front, back) {
        (Some(f), _) => RequestId {
            leg: Some(LegKind::Front),
            conn: f.conn.id.0,
            index: f.index(),
        },
        (None, Some(b)) => RequestId {
            leg: Some(LegKind::Back),
            conn: b.conn.id.0,
            index: b.index(),
        },
        (None, None) => RequestId {
            leg: None,
            conn: 0,
            index: 0,
        },
    };
    // Seen only from the back end: the node and the listener port it names in
    // X-Forwarded-Port, the client from the last X-Forwarded-For entry.
    let alb = front
        .map(|f| AlbAddr::Endpoint(f.conn.key.server))
        .or(back.map(|b| {
            let node = path.node.unwrap_or(b.conn.key.client.ip);
            match b
                .request_header("x-forwarded-port")
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                Some(port) => AlbAddr::Endpoint(crate::flow::Endpoint { ip: node, port }),
                None => AlbAddr::Node(node),
            }
        }));
    let client_ip = front.map(|f| f.conn.key.client.ip).or(back
        .and_then(|b| b.request_header("x-forwarded-for"))
        .and_then(|x| x.rsplit(',').next())
        .and_then(|c| c.trim().parse().ok()));
    Finding {
        id,
        time: start,
        client: front.map(|f| f.conn.key.client),
        client_ip,
        alb,
        target: back.map(|b| b.conn.key.server),
        method: req.map(|r| r.method.clone()),
        path: req.map(|r| r.target.clone()),
        host: req
            .and_then(|r| header(&r.headers, "host"))
            .map(str::to_string),
        request: request_seen,
        status,
        status_inferred,
        front_encrypted: front.is_some_and(|f| f.burst.is_some() || f.conn.tls),
        generated_by,
        category,
        headline,
        trace_id,
        access_log,
        timeline: Vec::new(),
        evidence,
        fix,
        notes,
        pairing: path.pairing,
        logged: None,
        target_server: detail.server.clone(),
    }
}

fn headline(
    status: Option<u16>,
    inferred: bool,
    by: Option<GeneratedBy>,
    what: &str,
    cat: Category,
) -> String {
    let who = match by {
        Some(GeneratedBy::Lb) => " from the ALB",
        Some(GeneratedBy::Target) => " from the target",
        None => "",
    };
    match status {
        Some(s) => {
            let inf = if inferred { " (inferred)" } else { "" };
            format!("{s}{inf}{who}: {what} ({cat})")
        }
        None if cat == Category::ClientClosed => {
            format!("no response (ALB logs 460): {what} ({cat})")
        }
        None if cat == Category::IncompleteBody => {
            format!("response cut off{who}: {what} ({cat})")
        }
        None => format!("no status seen: {what} ({cat})"),
    }
}

/// The status code (and Server header) readable at the start of a response that could not be
/// parsed whole (its excerpt, escaped as by [`crate::protocol::escape_bytes`]).
fn partial_response(excerpt: &str) -> Option<(u16, Option<String>)> {
    let mut lines = excerpt.split("\\r\\n");
    let first = lines.next()?;
    let rest = first.strip_prefix("HTTP/1.")?;
    let code = rest.get(2..5)?;
    let status: u16 = code.parse().ok()?;
    if !(100..=999).contains(&status) {
        return None;
    }
    let parts: Vec<&str> = lines.collect();
    // Only complete lines (followed by CRLF) count: the last piece may be cut.
    let complete = parts.len().saturating_sub(1);
    let server = parts.iter().take(complete).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case("server")
            .then(|| v.trim().to_string())
    });
    Some((status, server))
}

/// When the client closed (FIN or RST toward the ALB) before any answer on the front end.
fn client_closed_at(front: &Leg, ctx: &Ctx) -> Option<String> {
    let ex = front.exchange.as_ref();
    // When the ALB's answer started.
    let answer = ex
        .and_then(|e| {
            e.response
                .as_ref()
                .map(|r| r.first_byte)
                .or(e.response_error.as_ref().map(|r| r.first_byte))
        })
        .or(front
            .burst
            .as_ref()
            .and_then(|b| b.response.as_ref())
            .map(|r| r.first));
    let t0 = front.time();
    let close = events(front).iter().find(|e| {
        e.dir == Dir::ToServer && is_close(e) && e.ts >= t0 && answer.map_or(true, |a| e.ts < a)
    })?;
    // Bytes from the ALB missing from the capture before the close: the answer may be there.
    if events(front).iter().any(|e| {
        e.dir == Dir::ToClient
            && matches!(e.kind, TcpEventKind::Gap { .. })
            && e.ts >= t0
            && e.ts <= close.ts
    }) {
        return None;
    }
    // The ALB closing first means the client did not give up first.
    let alb_first = events(front)
        .iter()
        .any(|e| e.dir == Dir::ToClient && is_close(e) && e.ts < close.ts);
    if alb_first {
        return None;
    }
    let mut text = format!(
        "the client sent {} ({}) {} after its request, before any answer from the ALB",
        close_name(close),
        ctx.at(close.ts, close.pos),
        secs(close.ts.since(t0))
    );
    if let Some(a) = answer {
        // A half-close (FIN) and then reading the answer is not giving up; a RST answering the
        // late answer is.
        let rst = events(front)
            .iter()
            .find(|e| e.dir == Dir::ToServer && matches!(e.kind, TcpEventKind::Rst) && e.ts >= a)?;
        text.push_str(&format!(
            "; the answer that came {} later was refused with RST ({})",
            secs(a.since(close.ts)),
            ctx.pk(rst.pos)
        ));
    }
    Some(text)
}

fn analyze_front_only(
    f: &Leg,
    ctx: &Ctx,
    status: Option<u16>,
    is_lb: bool,
) -> (Category, String, Vec<String>) {
    let back_visible = matches!(
        ctx.known.vantage(),
        Vantage::BothLegs | Vantage::BackEndOnly
    );
    let mut ev = Vec::new();
    let resp = f.exchange.as_ref().and_then(|e| e.response.as_ref());
    if let Some(r) = resp {
        ev.push(format!(
            "the ALB answered {} {} ({}){}",
            r.status,
            r.reason,
            ctx.at(r.first_byte, r.first_pos),
            header(&r.headers, "server")
                .map(|s| format!(" with Server: {s}"))
                .unwrap_or_default()
        ));
    }
    match status {
        Some(s) if s < 500 => (Category::Ok, "answered normally".into(), ev),
        Some(_) if !is_lb && resp.is_some_and(|r| header(&r.headers, "server").is_some()) => {
            ev.push("the Server header is not the ALB's (awselb/2.0): a target's error".into());
            (
                Category::TargetGeneratedError,
                "the target's own error, relayed by the ALB".into(),
                ev,
            )
        }
        Some(_) if back_visible => {
            ev.push(format!(
                "no back-end connection attempt from ALB node {} around {} is in the capture",
                f.conn.key.server.ip,
                f.time().to_rfc3339()
            ));
            (
                Category::NoTargetAttempt,
                "the ALB answered without any back-end attempt (no healthy target, or a \
                 listener rule's fixed response)"
                    .into(),
                ev,
            )
        }
        Some(s) if is_lb => front_only_inference(f, ctx, s, ev),
        Some(_) => {
            ev.push("the back end is not in this capture, so the cause cannot be seen".into());
            (
                Category::Undetermined,
                "the ALB's error; capture the back end (target ENIs) to see why".into(),
                ev,
            )
        }
        None if f.burst.as_ref().is_some_and(|b| b.response.is_some()) => {
            let bytes = f
                .burst
                .as_ref()
                .and_then(|b| b.response.as_ref())
                .map_or(0, |r| r.bytes);
            ev.push(format!(
                "the ALB answered with {bytes} encrypted bytes; no back-end request matched this \
                 one, so its status cannot be seen"
            ));
            (
                Category::Undetermined,
                "an encrypted answer without a matching back-end request".into(),
                ev,
            )
        }
        None => {
            ev.push("no response to this request is in the capture".into());
            (
                Category::Undetermined,
                "no answer to the client in the capture".into(),
                ev,
            )
        }
    }
}

/// True when ALB -> client bytes after the request are missing from the capture (the answer
/// may have been in them).
fn front_answer_missing(f: &Leg) -> bool {
    let t0 = f.time();
    events(f)
        .iter()
        .any(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::Gap { .. }) && e.ts >= t0)
}

/// Time from the ALB receiving the request to its answer, on a front-end leg.
fn front_elapsed(f: &Leg) -> Option<Duration> {
    let req = f.exchange.as_ref()?.request.as_ref()?;
    let resp = f.exchange.as_ref()?.response.as_ref()?;
    let received = req.complete.or(req.headers_done).unwrap_or(req.first_byte);
    Some(resp.first_byte.since(received))
}

/// The ALB's own 5xx seen from the front end only: the most likely category from its timing.
/// Says in the evidence that it is an inference.
fn front_only_inference(
    f: &Leg,
    ctx: &Ctx,
    status: u16,
    mut ev: Vec<String>,
) -> (Category, String, Vec<String>) {
    let req = f.exchange.as_ref().and_then(|e| e.request.as_ref());
    let resp = f.exchange.as_ref().and_then(|e| e.response.as_ref());
    let (Some(req), Some(resp)) = (req, resp) else {
        ev.push("the back end is not in this capture, so the cause cannot be seen".into());
        return (
            Category::Undetermined,
            "the ALB's error; capture the back end (target ENIs) to see why".into(),
            ev,
        );
    };
    let received = req.complete.or(req.headers_done).unwrap_or(req.first_byte);
    let elapsed = resp.first_byte.since(received);
    let el = elapsed.as_secs_f64();
    let connect = ctx.known.config.connect_timeout.as_secs_f64();
    ev.push(format!(
        "the ALB answered {} after receiving the request",
        secs(elapsed)
    ));
    let caveat = "inferred from the front end only (the back end is not in this capture)";
    match status {
        504 if (el - connect).abs() <= 0.5 => {
            ev.push(format!(
                "{caveat}: a 504 after the {connect:.0} s connect timeout means the ALB could \
                 not connect to the target (a TLS handshake timeout looks the same)"
            ));
            (
                Category::TargetConnectTimeout,
                format!("the ALB could not connect to the target within {connect:.0} s"),
                ev,
            )
        }
        504 => {
            ev.push(format!(
                "{caveat}: a 504 {} after the request means the target did not answer within \
                 the ALB idle timeout, which is then about {el:.0} s",
                secs(elapsed)
            ));
            (
                Category::TargetIdleTimeout,
                format!("the target did not answer within the ALB idle timeout ({el:.0} s)"),
                ev,
            )
        }
        502 if el < 1.0 => {
            ev.push(format!(
                "{caveat}: an immediate 502 most often means the target refused the \
                 connection; an ICMP unreachable, a TLS handshake failure or a target closing \
                 the connection look the same from here"
            ));
            (
                Category::TargetConnectRefused,
                "the ALB could not use the target at once (most likely: connection refused)".into(),
                ev,
            )
        }
        502 => {
            ev.push(format!(
                "{caveat}: a 502 {} after the request means the target closed the connection \
                 (or the ALB aborted it) before answering",
                secs(elapsed)
            ));
            (
                Category::TargetClosedBeforeResponse,
                "the target closed the connection before answering (most likely)".into(),
                ev,
            )
        }
        503 => {
            ev.push(format!(
                "{caveat}: the ALB's 503 means it had no healthy target to send the request to"
            ));
            (
                Category::NoTargetAttempt,
                "the ALB had no healthy target (503)".into(),
                ev,
            )
        }
        _ => {
            ev.push("the back end is not in this capture, so the cause cannot be seen".into());
            (
                Category::Undetermined,
                "the ALB's error; capture the back end (target ENIs) to see why".into(),
                ev,
            )
        }
    }
}

/// Applies the back-end rules of the taxonomy.
fn analyze_back(b: &Leg, ctx: &Ctx) -> BackVerdict {
    let target_ep = b.conn.key.server;
    let tinfo = ctx.known.targets.get(&target_ep);
    let mut detail = FixDetail {
        target: Some(target_ep.to_string()),
        port: Some(target_ep.port),
        server: b
            .response_header("server")
            .map(str::to_string)
            .or(tinfo.and_then(|t| t.server.clone())),
        powered_by: b
            .response_header("x-powered-by")
            .map(str::to_string)
            .or(tinfo.and_then(|t| t.powered_by.clone())),
        idle_s: ctx.idle.as_secs_f64(),
        keepalive_s: ctx
            .known
            .target_keepalive(&target_ep)
            .map(|d| round3(d.as_secs_f64())),
        ..FixDetail::default()
    };
    let mut ev: Vec<String> = Vec::new();
    let evs = events(b);
    let (req_t, resp) = back_times(b);
    let v = |category, what: String, ev, target_status, expected, detail| BackVerdict {
        category,
        evidence: ev,
        target_status,
        expected_status: expected,
        what,
        detail,
    };

    // A response to a request whose bytes are not readable in the capture (truncation, loss):
    // the request went out just before it.
    let unreadable_request = req_t.is_none()
        && b.exchange
            .as_ref()
            .is_some_and(|e| e.response.is_some() || e.response_error.is_some());
    let req_t = if unreadable_request {
        Some(b.time())
    } else {
        req_t
    };
    let Some(req_t) = req_t else {
        return analyze_attempt(b, ctx, detail);
    };
    if unreadable_request {
        ev.push(format!(
            "the ALB's request to {target_ep} is not readable in the capture (bytes missing)"
        ));
    }
    let req_pos = if unreadable_request {
        None
    } else {
        b.first_pos()
    };
    if let Some(p) = req_pos {
        let what = match b.exchange.as_ref().and_then(|e| e.request.as_ref()) {
            Some(r) => format!("{} {}", r.method, r.target),
            None => "the request (TLS application data)".into(),
        };
        let reuse = if b.index() > 0 {
            format!(
                " on a reused connection (request #{} on it{})",
                b.index() + 1,
                b.exchange
                    .as_ref()
                    .and_then(|e| e.idle_before)
                    .map(|d| format!(", idle {} before", secs(d)))
                    .unwrap_or_default()
            )
        } else {
            String::new()
        };
        ev.push(format!(
            "the ALB sent {what} to {target_ep} ({}){reuse}",
            ctx.at(req_t, p)
        ));
    }
    let resp_t = resp.map(|r| r.0);
    let before_resp = |e: &&TcpEvent| resp_t.map_or(true, |r| e.ts <= r);
    let lookback = Timestamp(req_t.0.saturating_sub(RACE_LOOKBACK.0)).max(b.conn.opened);
    let target_close = evs
        .iter()
        .filter(|e| e.dir == Dir::ToClient && is_close(e) && e.ts >= lookback)
        .find(before_resp);
    let alb_close = evs
        .iter()
        .filter(|e| e.dir == Dir::ToServer && is_close(e) && e.ts >= req_t)
        .find(before_resp);

    // The target closed before answering (or raced the request).
    if let Some(tc) = target_close {
        if alb_close.map_or(true, |ac| tc.ts <= ac.ts) {
            let gap = if tc.ts >= req_t {
                format!("{} after the request", ms(tc.ts.since(req_t)))
            } else {
                format!("{} before the request arrived", ms(req_t.since(tc.ts)))
            };
            ev.push(format!(
                "the target sent {} ({}), {gap}, before any response byte",
                close_name(tc),
                ctx.at(tc.ts, tc.pos)
            ));
            let idle_before = b.exchange.as_ref().and_then(|e| e.idle_before);
            let near = tc.ts.since(req_t).0.unsigned_abs() <= RACE_WINDOW.0.unsigned_abs();
            // The idle gap before the request equals the target's keep-alive timeout (read
            // from its other idle closes), or, when that is unknown, the close met the request
            // after a real idle period.
            let ka_match = match (idle_before, detail.keepalive_s) {
                (Some(i), Some(k)) => (i.as_secs_f64() - k).abs() <= (0.05 * k).max(0.25),
                (Some(i), None) => near && i.as_secs_f64() >= 1.0,
                _ => false,
            };
            if b.index() > 0 && ka_match {
                if let Some(k) = detail.keepalive_s {
                    ev.push(format!(
                        "the target closes idle keep-alive connections after {} (seen on its \
                         other connections): the idle gap matches, so its keep-alive timer fired \
                         just as the ALB reused the connection",
                        secs(Duration::from_secs_f64(k))
                    ));
                } else if let Some(i) = idle_before {
                    detail.keepalive_s = Some(round3(i.as_secs_f64()));
                }
                if let Some(s) = &detail.server {
                    ev.push(format!("the target identifies as Server: {s}"));
                }
                return v(
                    Category::KeepaliveRace,
                    "keep-alive race: the target closed the idle reused connection just as \
                     the ALB sent the request on it"
                        .into(),
                    ev,
                    None,
                    Some(502),
                    detail,
                );
            }
            let how = if close_name(tc) == "RST" {
                "reset"
            } else {
                "closed"
            };
            return v(
                Category::TargetClosedBeforeResponse,
                format!("the target {how} the connection before answering"),
                ev,
                None,
                Some(502),
                detail,
            );
        }
    }

    // The ALB gave up first: idle timeout, or deregistration delay.
    if let Some(ac) = alb_close {
        let elapsed = ac.ts.since(req_t);
        ev.push(format!(
            "the target sent no response; the ALB closed the connection with {} ({}) {} \
             after sending the request",
            close_name(ac),
            ctx.at(ac.ts, ac.pos),
            secs(elapsed)
        ));
        if let Some((rt, rp)) = resp {
            let status = b
                .exchange
                .as_ref()
                .and_then(|e| e.response.as_ref())
                .map(|r| format!(" (HTTP {} {})", r.status, r.reason))
                .unwrap_or_default();
            ev.push(format!(
                "the target's late reply{status} came {} after the request ({}){}",
                secs(rt.since(req_t)),
                ctx.pk(rp),
                evs.iter()
                    .find(|e| e.dir == Dir::ToServer
                        && matches!(e.kind, TcpEventKind::Rst)
                        && e.ts >= rt)
                    .map(|e| format!(
                        " and drew a RST from the ALB ({}); the target may log it as a success",
                        ctx.pk(e.pos)
                    ))
                    .unwrap_or_default()
            ));
        }
        let idle = ctx.idle;
        let near_idle = (elapsed.as_secs_f64() - idle.as_secs_f64()).abs()
            <= (0.02 * idle.as_secs_f64()).max(1.0);
        let late_reply = resp.is_some();
        if near_idle || elapsed > idle {
            ev.push(format!(
                "{} matches the ALB idle timeout ({})",
                secs(elapsed),
                secs(idle)
            ));
            return v(
                Category::TargetIdleTimeout,
                format!(
                    "the target did not answer within the ALB idle timeout ({})",
                    secs(idle)
                ),
                ev,
                None,
                Some(504),
                detail,
            );
        }
        let _ = late_reply;
        ev.push(format!(
            "{} is shorter than the ALB idle timeout ({}): the ALB aborted the request itself, \
             as when the target's deregistration delay runs out (if the ALB's idle timeout is \
             really {:.0} s, this is target_idle_timeout: say so with --idle-timeout)",
            secs(elapsed),
            secs(idle),
            elapsed.as_secs_f64()
        ));
        detail.extra = Some(secs(elapsed));
        return v(
            Category::DeregistrationAbort,
            "the ALB aborted the request while the target was still working \
             (deregistration delay ran out)"
                .into(),
            ev,
            None,
            Some(502),
            detail,
        );
    }

    // Bytes came back that are not a usable response.
    if let Some(err) = b.exchange.as_ref().and_then(|e| e.response_error.as_ref()) {
        match err.kind {
            ResponseErrorKind::Malformed => {
                ev.push(format!(
                    "the target's reply ({}) is not valid HTTP: \"{}\" ({})",
                    ctx.at(err.first_byte, err.first_pos),
                    err.excerpt,
                    err.reason
                ));
                detail.extra = Some(err.excerpt.clone());
                return v(
                    Category::MalformedResponse,
                    "the target's response is not valid HTTP".into(),
                    ev,
                    None,
                    Some(502),
                    detail,
                );
            }
            ResponseErrorKind::HeaderTooLarge => {
                ev.push(format!(
                    "the target's response header block ({}) grew past {} bytes without \
                     ending; the ALB's limit is 32 KB",
                    ctx.at(err.first_byte, err.first_pos),
                    err.bytes
                ));
                detail.extra = Some(err.bytes.to_string());
                return v(
                    Category::ResponseHeaderTooLarge,
                    "the target's response headers exceed 32 KB".into(),
                    ev,
                    None,
                    Some(502),
                    detail,
                );
            }
            ResponseErrorKind::Gap if partial_response(&err.excerpt).is_some() => {
                let (status, server) = partial_response(&err.excerpt).unwrap_or((0, None));
                ev.push(format!(
                    "the target answered {status} ({}){}; the rest of the response is missing \
                     from the capture",
                    ctx.at(err.first_byte, err.first_pos),
                    server
                        .as_ref()
                        .map(|s| format!(" with Server: {s}"))
                        .unwrap_or_default()
                ));
                if status >= 500 {
                    return v(
                        Category::TargetGeneratedError,
                        format!(
                            "the target's own error, relayed by the ALB{}",
                            server
                                .map(|s| format!(" (Server: {s})"))
                                .unwrap_or_default()
                        ),
                        ev,
                        Some(status),
                        Some(status),
                        detail,
                    );
                }
                return v(
                    Category::Ok,
                    "relayed normally".into(),
                    ev,
                    Some(status),
                    Some(status),
                    detail,
                );
            }
            ResponseErrorKind::Gap => {
                ev.push(format!(
                    "part of the target's response ({}) is missing from the capture, so it \
                     could not be read",
                    ctx.pk(err.first_pos)
                ));
                return v(
                    Category::Undetermined,
                    "the response is not fully in the capture".into(),
                    ev,
                    None,
                    None,
                    detail,
                );
            }
        }
    }

    if let Some(r) = b.exchange.as_ref().and_then(|e| e.response.as_ref()) {
        return analyze_response(b, r, ctx, ev, detail);
    }
    if let Some(bx) = &b.burst {
        if let Some(r) = &bx.response {
            ev.push(format!(
                "the target answered with {} bytes of TLS application data ({})",
                r.bytes,
                ctx.at(r.first, r.first_pos)
            ));
            return v(
                Category::Ok,
                "the target answered (TLS: status not visible)".into(),
                ev,
                None,
                None,
                detail,
            );
        }
    }
    let end = b.record.as_ref().map(|r| r.tcp.end);
    ev.push(match end {
        Some(e) => format!(
            "no response and no close by either side up to {} (the end of this connection \
             in the capture)",
            e.to_rfc3339()
        ),
        None => "no response in the capture and the connection did not close in it".into(),
    });
    v(
        Category::Undetermined,
        "the request got no response within the capture".into(),
        ev,
        None,
        None,
        detail,
    )
}

fn analyze_response(
    b: &Leg,
    r: &HttpResponse,
    ctx: &Ctx,
    mut ev: Vec<String>,
    mut detail: FixDetail,
) -> BackVerdict {
    let server = header(&r.headers, "server");
    ev.push(format!(
        "the target answered {} {} ({}){}",
        r.status,
        r.reason,
        ctx.at(r.first_byte, r.first_pos),
        server
            .map(|s| format!(" with Server: {s}"))
            .unwrap_or_default()
    ));
    let short = r.complete.is_none() && r.content_length.is_some_and(|cl| cl > r.body_bytes);
    if short {
        let cl = r.content_length.unwrap_or(0);
        ev.push(format!(
            "it declared Content-Length: {cl} but only {} body bytes followed",
            r.body_bytes
        ));
        if let Some(c) = events(b)
            .iter()
            .find(|e| is_close(e) && e.ts >= r.headers_done)
        {
            let who = if c.dir == Dir::ToServer {
                "ALB"
            } else {
                "target"
            };
            ev.push(format!(
                "the {who} closed the connection with {} ({}) {} after the headers",
                close_name(c),
                ctx.at(c.ts, c.pos),
                secs(c.ts.since(r.headers_done))
            ));
        }
        detail.extra = Some(format!("{cl} declared, {} sent", r.body_bytes));
        return BackVerdict {
            category: Category::IncompleteBody,
            evidence: ev,
            target_status: Some(r.status),
            expected_status: Some(r.status),
            what: format!(
                "the target's response body stopped short of its Content-Length ({} of {cl} \
                 bytes)",
                r.body_bytes
            ),
            detail,
        };
    }
    if r.status >= 500 {
        return BackVerdict {
            category: Category::TargetGeneratedError,
            evidence: ev,
            target_status: Some(r.status),
            expected_status: Some(r.status),
            what: format!(
                "the target's own error, relayed by the ALB{}",
                server
                    .map(|s| format!(" (Server: {s})"))
                    .unwrap_or_default()
            ),
            detail,
        };
    }
    BackVerdict {
        category: Category::Ok,
        evidence: ev,
        target_status: Some(r.status),
        expected_status: Some(r.status),
        what: "relayed normally".into(),
        detail,
    }
}

/// A back-end connection that carried no request: connect and TLS failures.
fn analyze_attempt(b: &Leg, ctx: &Ctx, mut detail: FixDetail) -> BackVerdict {
    let evs = events(b);
    let target = b.conn.key.server;
    let mut ev = Vec::new();
    let v = |category, what: String, ev, expected, detail| BackVerdict {
        category,
        evidence: ev,
        target_status: None,
        expected_status: expected,
        what,
        detail,
    };
    let syns: Vec<&TcpEvent> = evs
        .iter()
        .filter(|e| e.dir == Dir::ToServer && matches!(e.kind, TcpEventKind::Syn { .. }))
        .collect();
    let first_synack = evs
        .iter()
        .find(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::SynAck { .. }));
    if let Some(s) = syns.first() {
        ev.push(format!(
            "the ALB opened a connection to {target}: SYN ({})",
            ctx.at(s.ts, s.pos)
        ));
    }
    if let Some((e, icmp)) = evs.iter().find_map(|e| match &e.kind {
        TcpEventKind::Icmp(i) => Some((e, i)),
        _ => None,
    }) {
        let text = format!(
            "ICMP {} (type {} code {})",
            icmp.description, icmp.icmp_type, icmp.code
        );
        ev.push(format!(
            "the SYN was answered by {text} ({})",
            ctx.at(e.ts, e.pos)
        ));
        detail.extra = Some(text.clone());
        return v(
            Category::TargetUnreachableIcmp,
            format!("the target was unreachable: {text}"),
            ev,
            Some(502),
            detail,
        );
    }
    let target_rst = evs
        .iter()
        .find(|e| e.dir == Dir::ToClient && matches!(e.kind, TcpEventKind::Rst));
    if first_synack.is_none() {
        if let Some(r) = target_rst {
            let after = syns
                .first()
                .map(|s| format!(" {} after the SYN", ms(r.ts.since(s.ts))))
                .unwrap_or_default();
            ev.push(format!(
                "the target answered the SYN with RST ({}){after}: nothing listens on port {}, \
                 or the target is refusing connections",
                ctx.at(r.ts, r.pos),
                target.port
            ));
            return v(
                Category::TargetConnectRefused,
                "the target refused the connection (SYN answered by RST)".into(),
                ev,
                Some(502),
                detail,
            );
        }
        if let (Some(first), Some(last)) = (syns.first(), syns.last()) {
            let retx = syns.len().saturating_sub(1);
            let end = b.record.as_ref().map(|r| r.tcp.end).unwrap_or(last.ts);
            ev.push(format!(
                "{retx} SYN retransmission(s) up to {} ({}), {} after the first; no SYN-ACK, \
                 RST or ICMP came back",
                last.ts.to_rfc3339(),
                ctx.pk(last.pos),
                secs(last.ts.since(first.ts))
            ));
            ev.push(format!(
                "the ALB gives up after its connect timeout ({}); attempt seen for {}",
                secs(ctx.known.config.connect_timeout),
                secs(end.since(first.ts))
            ));
            return v(
                Category::TargetConnectTimeout,
                format!(
                    "the ALB could not connect to the target within {}",
                    secs(ctx.known.config.connect_timeout)
                ),
                ev,
                Some(504),
                detail,
            );
        }
    }
    if let Some(sa) = first_synack {
        let retx_after: Vec<&&TcpEvent> = syns.iter().filter(|s| s.ts > sa.ts).collect();
        if !retx_after.is_empty() {
            ev.push(format!(
                "the target answered SYN-ACK ({}) but the ALB retransmitted its SYN {} more \
                 time(s): the SYN-ACK never reached the ALB, so the return path is blocked",
                ctx.at(sa.ts, sa.pos),
                retx_after.len()
            ));
            detail.return_path_blocked = true;
            return v(
                Category::TargetConnectTimeout,
                "the ALB could not complete the connection: the target's SYN-ACKs do not get \
                 back to it"
                    .into(),
                ev,
                Some(504),
                detail,
            );
        }
    }
    let tls = b.record.as_ref().and_then(|r| r.tls.as_ref());
    if b.conn.tls || tls.is_some() {
        let offer = tls.and_then(|t| t.client_hello.as_ref()).map(|ch| {
            let versions = if ch.supported_versions.is_empty() {
                ch.legacy_version.clone()
            } else {
                ch.supported_versions.join(", ")
            };
            let ciphers: Vec<&str> = ch.ciphers.iter().take(6).map(String::as_str).collect();
            let more = ch.ciphers.len().saturating_sub(6);
            format!(
                "{versions}; ciphers {}{}",
                ciphers.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        });
        if let Some(ch) = tls.and_then(|t| t.client_hello.as_ref()) {
            ev.push(format!(
                "the ALB's TLS ClientHello ({}) offered {}",
                ctx.at(ch.ts, ch.pos),
                offer.clone().unwrap_or_default()
            ));
        }
        detail.extra = tls.and_then(|t| t.client_hello.as_ref()).map(|ch| {
            let versions = if ch.supported_versions.is_empty() {
                ch.legacy_version.clone()
            } else {
                ch.supported_versions.join(", ")
            };
            format!(
                "{versions} with {} cipher suites, listed in the evidence",
                ch.ciphers.len()
            )
        });
        let established = tls.is_some_and(|t| t.established.is_some());
        if !established {
            let start = tls
                .and_then(|t| t.client_hello.as_ref())
                .map(|c| c.ts)
                .unwrap_or(b.conn.opened);
            if let Some(a) = tls.and_then(|t| t.alerts.iter().find(|a| a.dir == Dir::ToClient)) {
                ev.push(format!(
                    "the target answered with TLS alert {} {} ({})",
                    a.level,
                    a.description,
                    ctx.at(a.ts, a.pos)
                ));
                return v(
                    Category::TargetTlsHandshakeFailed,
                    format!(
                        "the TLS handshake with the target failed ({})",
                        a.description
                    ),
                    ev,
                    Some(502),
                    detail,
                );
            }
            let tclose = evs
                .iter()
                .find(|e| e.dir == Dir::ToClient && is_close(e) && e.ts >= start);
            let aclose = evs
                .iter()
                .find(|e| e.dir == Dir::ToServer && is_close(e) && e.ts >= start);
            match (tclose, aclose) {
                (Some(t), a) if a.map_or(true, |a| t.ts <= a.ts) => {
                    ev.push(format!(
                        "the target answered with {} ({}) {} after the ClientHello, before \
                         the handshake completed (typically no shared TLS version or cipher)",
                        close_name(t),
                        ctx.at(t.ts, t.pos),
                        ms(t.ts.since(start))
                    ));
                    return v(
                        Category::TargetTlsHandshakeFailed,
                        "the TLS handshake with the target failed".into(),
                        ev,
                        Some(502),
                        detail,
                    );
                }
                (_, Some(a)) => {
                    let el = a.ts.since(start);
                    ev.push(format!(
                        "the handshake did not complete; the ALB closed with {} ({}) {} after \
                         the ClientHello (its TLS handshake timeout is {})",
                        close_name(a),
                        ctx.at(a.ts, a.pos),
                        secs(el),
                        secs(TLS_HANDSHAKE_TIMEOUT)
                    ));
                    let near = el.as_secs_f64() >= TLS_HANDSHAKE_TIMEOUT.as_secs_f64() - 1.0;
                    return v(
                        if near {
                            Category::TargetTlsHandshakeTimeout
                        } else {
                            Category::TargetTlsHandshakeFailed
                        },
                        if near {
                            "the TLS handshake with the target did not complete within 10 s".into()
                        } else {
                            "the TLS handshake with the target failed".into()
                        },
                        ev,
                        Some(if near { 504 } else { 502 }),
                        detail,
                    );
                }
                _ => {}
            }
        }
    }
    let sent = b
        .record
        .as_ref()
        .and_then(|r| r.tcp.dirs.first())
        .map_or(0, |d| d.payload_bytes.saturating_add(d.gap_bytes));
    let target_close = evs.iter().find(|e| e.dir == Dir::ToClient && is_close(e));
    if let (true, Some(c)) = (sent > 0, target_close) {
        ev.push(format!(
            "the ALB sent {sent} bytes to {target} (the request; not readable in the capture)"
        ));
        ev.push(format!(
            "the target sent {} ({}) before any response byte",
            close_name(c),
            ctx.at(c.ts, c.pos)
        ));
        let how = if close_name(c) == "RST" {
            "reset"
        } else {
            "closed"
        };
        return v(
            Category::TargetClosedBeforeResponse,
            format!("the target {how} the connection before answering"),
            ev,
            Some(502),
            detail,
        );
    }
    if let Some(c) = evs.iter().find(|e| is_close(e)) {
        let who = if c.dir == Dir::ToServer {
            "ALB"
        } else {
            "target"
        };
        ev.push(format!(
            "the connection carried no request; the {who} closed it with {} ({})",
            close_name(c),
            ctx.at(c.ts, c.pos)
        ));
        if c.dir == Dir::ToClient {
            return v(
                Category::TargetClosedBeforeResponse,
                "the target closed the new connection before the request could be sent".into(),
                ev,
                Some(502),
                detail,
            );
        }
    } else {
        ev.push("the connection carried no request".into());
    }
    v(
        Category::Undetermined,
        "the back-end connection carried no request".into(),
        ev,
        None,
        detail,
    )
}

/// The access-log fields for a request.
fn access_log(
    path: &RequestPath,
    ctx: &Ctx,
    category: Category,
    status: Option<u16>,
    target_status: Option<u16>,
    trace_id: &Option<String>,
) -> AccessLogView {
    let front = path.front.as_ref();
    let back = path.back.as_ref();
    let f_req = front
        .and_then(|f| f.exchange.as_ref())
        .and_then(|e| e.request.as_ref());
    let f_recv = f_req
        .map(|r| r.complete.or(r.headers_done).unwrap_or(r.first_byte))
        .or(front.and_then(|f| f.burst.as_ref()).map(|b| b.request.last));
    let f_resp = front.and_then(|f| {
        f.exchange
            .as_ref()
            .and_then(|e| e.response.as_ref())
            .map(|r| r.first_byte)
            .or(f
                .burst
                .as_ref()
                .and_then(|b| b.response.as_ref())
                .map(|r| r.first))
    });
    let (b_sent, b_resp) = match back {
        Some(b) => {
            let (req, _) = back_times(b);
            let hdrs = b
                .exchange
                .as_ref()
                .and_then(|e| e.response.as_ref())
                .map(|r| r.headers_done)
                .or(b
                    .burst
                    .as_ref()
                    .and_then(|x| x.response.as_ref())
                    .map(|r| r.first));
            (req, hdrs)
        }
        None => (None, None),
    };
    let back_known = back.is_some() || ctx.known.vantage() == Vantage::BothLegs;
    let relayed = target_status.is_some();
    let secs_between = |a: Timestamp, b: Timestamp| Step::Took(Duration(b.since(a).0.max(0)));
    let request_processing_time = match (f_recv, b_sent) {
        (Some(f), Some(b)) => secs_between(f, b),
        (None, Some(_)) => Step::NotCaptured,
        (_, None) if back_known => Step::Never,
        _ => Step::NotCaptured,
    };
    // Bytes the ALB could not use still end the target's processing (the seed's malformed
    // response logs `0.000 11.083 -1 502 -`).
    let bad_reply = back
        .and_then(|b| b.exchange.as_ref())
        .and_then(|e| e.response_error.as_ref())
        .map(|e| e.first_byte)
        .filter(|_| {
            matches!(
                category,
                Category::MalformedResponse | Category::ResponseHeaderTooLarge
            )
        });
    let target_processing_time = match (b_sent, b_resp.or(bad_reply)) {
        (Some(s), Some(r)) if relayed || bad_reply.is_some() || category == Category::Ok => {
            secs_between(s, r)
        }
        (Some(_), _) => Step::Never,
        (None, _) if back_known => Step::Never,
        _ => Step::NotCaptured,
    };
    let response_processing_time = match (b_resp, f_resp) {
        (Some(r), Some(f)) if relayed || category == Category::Ok => secs_between(r, f),
        (Some(_), None) if relayed && front.is_none() => Step::NotCaptured,
        _ if back_known || front.is_some() => Step::Never,
        _ => Step::NotCaptured,
    };
    let elb_status_code = if category == Category::ClientClosed {
        Some(460)
    } else {
        status
    };
    AccessLogView {
        request_creation_time: front.map(|f| f.time()).or(back.map(|b| b.time())),
        request_processing_time,
        target_processing_time,
        response_processing_time,
        elb_status_code,
        target_status_code: target_status,
        trace_id: trace_id.clone(),
    }
}
