//! The JSON request object (schema v2, see [`super::json`]), written straight into a
//! [`Pretty`] buffer from a [`Finding`] whose sentences come from [`super::words`]: no output
//! struct or owned string per field (a report writes one per kept request).

use super::direct::Pretty;
use super::LoggedOut;
use crate::alb::PairingMethod;
use crate::diagnose::model::AlbAddr;
use crate::diagnose::model::RequestId;
use crate::diagnose::{AccessLogView, Analysis, Finding, LegKind, Step, TimelineEvent};
use crate::flow::{community_id, Endpoint};
use crate::report::wireshark;
use crate::report::words;
use serde_json::ser::{CompactFormatter, Formatter};
use std::io::{self, Write};
use std::net::IpAddr;

/// Writes `f`, one of `a`'s requests (whose inputs its packet references name), as one
/// object at `p`'s depth, fields in schema order.
pub(super) fn write_request(p: &mut Pretty, f: &Finding, a: &Analysis) -> io::Result<()> {
    let files = &a.inputs;
    p.open_object();
    p.key("id");
    p.str_with(|b| push_id(b, &f.id));
    p.key("time");
    time(p, f.time);
    p.key("client");
    opt_endpoint(p, f.client);
    p.key("client_ip");
    match f.client_ip {
        Some(ip) => p.str_with(|b| push_ip(b, ip)),
        None => p.null(),
    }
    p.key("alb");
    match f.alb {
        Some(AlbAddr::Endpoint(e)) => p.str_with(|b| push_endpoint(b, e)),
        Some(AlbAddr::Node(ip)) => p.str_with(|b| push_ip(b, ip)),
        None => p.null(),
    }
    p.key("target");
    opt_endpoint(p, f.target);
    p.key("community_id");
    p.opt_str(front_community_id(f).as_deref());
    p.key("back_community_id");
    p.opt_str(
        f.back_alb
            .zip(f.target)
            .map(|(alb, target)| community_id(alb, target))
            .as_deref(),
    );
    p.key("method");
    p.opt_str(f.method.as_deref());
    p.key("path");
    p.opt_str(f.path.as_deref());
    p.key("host");
    p.opt_str(f.host.as_deref());
    p.key("request");
    p.str(&words::request_seen(&f.request));
    p.key("status");
    p.opt_u64(f.status.map(u64::from));
    p.key("status_inferred");
    p.bool(f.status_inferred);
    p.key("front_encrypted");
    p.bool(f.front_encrypted);
    if f.outcome_not_visible {
        p.key("outcome_not_visible");
        p.bool(true);
    }
    if f.decrypted.any() {
        p.key("decrypted");
        p.open_array();
        for (on, leg) in [(f.decrypted.front, "front"), (f.decrypted.back, "back")] {
            if on {
                p.item();
                p.str(leg);
            }
        }
        p.close_array();
    }
    p.key("generated_by");
    p.opt_str(f.generated_by.map(|g| g.name()));
    p.key("category");
    p.str(f.category.name());
    p.key("candidates");
    p.open_array();
    for c in &f.candidates {
        p.item();
        p.str(c.name());
    }
    p.close_array();
    p.key("headline");
    p.str(&words::headline(f));
    p.key("trace_id");
    p.opt_str(f.trace_id.as_deref());
    p.key("access_log");
    access_log(p, &f.access_log);
    p.key("timeline");
    p.open_array();
    for e in &f.timeline {
        p.item();
        event(p, e, f, files);
    }
    p.close_array();
    p.key("evidence");
    p.open_array();
    for e in &f.evidence {
        p.item();
        p.str(&words::evidence(files, e));
    }
    p.close_array();
    p.key("fix");
    p.opt_str(f.fix.as_deref());
    p.key("notes");
    p.open_array();
    for n in words::notes(&f.notes) {
        p.item();
        p.str(&n);
    }
    p.close_array();
    p.key("pairing");
    p.str(pairing_name(f.pairing));
    p.key("target_server");
    p.opt_str(f.target_server.as_deref());
    if let Some(l) = f.logged.as_deref() {
        p.key("logged");
        p.value(&LoggedOut::new(l))?;
    }
    if let Some(g) = f.grpc.as_ref() {
        if let Some(status) = g.status {
            p.key("grpc_status");
            p.u64(u64::from(status));
            if let Some(name) = crate::protocol::grpc_code_name(status) {
                p.key("grpc_status_name");
                p.str(name);
            }
        }
        if let Some(m) = g.message.as_deref() {
            p.key("grpc_message");
            p.str(m);
        }
        if let Some(h) = g.from_http {
            p.key("grpc_status_from_http");
            p.u64(u64::from(h));
        }
    }
    if let Some(r) = f.client_stream_reset {
        p.key("client_stream_reset");
        p.open_object();
        p.key("code");
        p.u64(u64::from(r.code));
        p.key("name");
        p.opt_str(crate::protocol::H2ErrorCode(r.code).name());
        p.key("target_received");
        match r.target_received {
            Some(received) => p.bool(received),
            None => p.null(),
        }
        p.close_object();
    }
    let ws = wireshark::for_request(a, f);
    p.key("wireshark_filter");
    p.opt_str(
        ws.as_ref()
            .filter(|w| w.filters.len() == 1)
            .and_then(|w| w.filters.first())
            .map(|x| x.filter.as_str()),
    );
    p.key("wireshark_filters");
    p.open_array();
    for x in ws.iter().flat_map(|w| w.filters.iter()) {
        p.item();
        p.open_object();
        p.key("file");
        p.str(wireshark::file_name(a, x.file));
        p.key("filter");
        p.str(&x.filter);
        p.close_object();
    }
    p.close_array();
    p.key("extract_command");
    p.opt_str(ws.as_ref().map(|w| w.extract.as_str()));
    p.close_object();
    Ok(())
}

/// Writes the document's `requests` array (at depth 1: a member of the top-level object) to
/// `out`, one request at a time.
pub(super) fn write_requests(a: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    let mut p = Pretty::at(1);
    p.open_array();
    for f in &a.requests {
        p.item();
        write_request(&mut p, f, a)?;
        out.write_all(&p.buf)?;
        p.buf.clear();
    }
    p.close_array();
    out.write_all(&p.buf)
}

/// Requests per run handed to the helper thread of [`write_requests_on`].
const RUN: usize = 64;

/// [`write_requests`] with `threads` above 1: every other run of [`RUN`] requests is written on
/// a helper thread into a buffer (at most a few runs held), the runs written out in order:
/// the same bytes.
pub(super) fn write_requests_on(
    a: &Analysis,
    out: &mut dyn Write,
    threads: usize,
) -> io::Result<()> {
    if threads < 2 || a.requests.len() <= RUN {
        return write_requests(a, out);
    }
    let runs: Vec<&[Finding]> = a.requests.chunks(RUN).collect();
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(2);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let runs_ref = &runs;
        let helper = std::thread::Builder::new()
            .name("albscope-json".into())
            .spawn_scoped(scope, move || {
                for run in runs_ref.iter().skip(1).step_by(2) {
                    let mut p = Pretty::within_array(2);
                    if let Ok(mut buf) = spare_rx.try_recv() {
                        buf.clear();
                        p.buf = buf;
                    }
                    let written = run
                        .iter()
                        .try_for_each(|f| {
                            p.item();
                            write_request(&mut p, f, a)
                        })
                        .map(|()| p.buf);
                    // The writer stops taking runs only when it failed: stop then.
                    if full_tx.send(written).is_err() {
                        break;
                    }
                }
            });
        if helper.is_err() {
            return write_requests(a, out);
        }
        let mut p = Pretty::at(1);
        p.open_array();
        for (i, run) in runs.iter().enumerate() {
            if i % 2 == 0 {
                for f in *run {
                    p.item();
                    write_request(&mut p, f, a)?;
                    out.write_all(&p.buf)?;
                    p.buf.clear();
                }
            } else {
                let buf = full_rx
                    .recv()
                    .map_err(|_| io::Error::other("the JSON writer thread stopped"))??;
                out.write_all(&buf)?;
                // The helper may be done already: then the buffer is simply dropped.
                let _ = spare_tx.send(buf);
            }
        }
        p.close_array();
        out.write_all(&p.buf)
    })
}

/// `value`'s `Display` text, appended.
fn push_display(b: &mut Vec<u8>, value: &impl std::fmt::Display) {
    // Writing to a Vec cannot fail.
    let _ = write!(b, "{value}");
}

/// An endpoint as displayed (`ip:port`), or `null`.
fn opt_endpoint(p: &mut Pretty, e: Option<Endpoint>) {
    match e {
        Some(e) => p.str_with(|b| push_endpoint(b, e)),
        None => p.null(),
    }
}

/// `v` in decimal.
fn push_dec(b: &mut Vec<u8>, v: u64) {
    // Writing to a Vec cannot fail.
    let _ = CompactFormatter.write_u64(b, v);
}

/// A request id as displayed (`f12.0`), digit by digit.
fn push_id(b: &mut Vec<u8>, id: &RequestId) {
    b.push(match id.leg {
        Some(LegKind::Front) => b'f',
        Some(LegKind::Back) => b'b',
        None => {
            b.push(b'x');
            return;
        }
    });
    push_dec(b, id.conn);
    b.push(b'.');
    push_dec(b, u64::from(id.index));
}

/// An address as displayed: an IPv4 address digit by digit, IPv6 through `Display`.
fn push_ip(b: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    b.push(b'.');
                }
                push_dec(b, u64::from(o));
            }
        }
        IpAddr::V6(_) => push_display(b, &ip),
    }
}

/// An endpoint as displayed (`10.0.0.1:80`, `[fd00::1]:80`).
fn push_endpoint(b: &mut Vec<u8>, e: Endpoint) {
    match e.ip {
        IpAddr::V4(_) => {
            push_ip(b, e.ip);
            b.push(b':');
            push_dec(b, u64::from(e.port));
        }
        IpAddr::V6(_) => push_display(b, &e),
    }
}

/// An RFC 3339 time.
fn time(p: &mut Pretty, t: crate::capture::Timestamp) {
    p.str_with(|b| t.write_rfc3339(b));
}

/// A step in seconds: -1 when it never happened, null when not captured.
fn step(p: &mut Pretty, s: Step) {
    match s {
        Step::NotCaptured => p.null(),
        Step::Never => p.f64(-1.0),
        Step::Took(_) => p.opt_f64(s.secs()),
    }
}

/// The `access_log` object.
fn access_log(p: &mut Pretty, al: &AccessLogView) {
    p.open_object();
    p.key("request_creation_time");
    match al.request_creation_time {
        Some(t) => time(p, t),
        None => p.null(),
    }
    p.key("request_processing_time");
    step(p, al.request_processing_time);
    p.key("target_processing_time");
    step(p, al.target_processing_time);
    p.key("response_processing_time");
    step(p, al.response_processing_time);
    p.key("elb_status_code");
    p.opt_u64(al.elb_status_code.map(u64::from));
    p.key("target_status_code");
    p.opt_u64(al.target_status_code.map(u64::from));
    p.key("trace_id");
    p.opt_str(al.trace_id.as_deref());
    p.close_object();
}

/// One timeline event object.
fn event(p: &mut Pretty, e: &TimelineEvent, f: &Finding, files: &[String]) {
    p.open_object();
    p.key("time");
    time(p, e.time);
    p.key("rel_ms");
    p.f64(words::rel_ms(e.time, f.time));
    p.key("side");
    p.str(match e.side {
        LegKind::Front => "front",
        LegKind::Back => "back",
    });
    p.key("direction");
    p.str(words::direction(e.direction));
    p.key("event");
    p.str(&words::event(&e.kind));
    p.key("packet");
    match e.packet {
        // One input: `#12` (as `words::packet` writes it), digit by digit.
        Some(pos) if files.len() <= 1 => p.str_with(|b| {
            b.push(b'#');
            push_dec(b, pos.number);
        }),
        Some(pos) => p.str(&words::packet(files, pos)),
        None => p.null(),
    }
    p.close_object();
}

/// `pairing` as the schema names it.
fn pairing_name(m: PairingMethod) -> &'static str {
    match m {
        PairingMethod::Headers => "headers",
        PairingMethod::TimeOrder => "time_order",
        PairingMethod::Http2Connection => "http2_connection",
        PairingMethod::Unpaired => "unpaired",
    }
}

/// The Community ID of the client's connection, when the front end was captured (only then
/// is `alb` the connection's own endpoint rather than the node and X-Forwarded-Port).
fn front_community_id(f: &Finding) -> Option<String> {
    match (f.client, f.alb) {
        (Some(client), Some(AlbAddr::Endpoint(alb))) => Some(community_id(client, alb)),
        _ => None,
    }
}
