//! One `albscope flows --format ndjson` line, written straight into a byte buffer: the same
//! text `serde_json` writes for the connection object (`flows::FlowOut`), without a `String`
//! per field or the formatting machinery per number. Rare parts (ICMP events, TLS outcomes,
//! strings that need escaping) still go through `serde_json`.

use albscope::capture::PacketPos;
use albscope::decode::{Encap, MirrorSession};
use albscope::flow::{CloseReason, ConnSummary, Dir, DirStats, Endpoint, TcpEvent, TcpEventKind};
use serde::Serialize;
use std::io::Write;
use std::net::IpAddr;

/// Appends the decimal digits of `v`.
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while v > 0 && at > 0 {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `v` in decimal with its sign.
fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends `value` as `serde_json` writes it (for the rare and the floating-point parts).
fn push_serde(out: &mut Vec<u8>, value: &impl Serialize) {
    // Writing to a Vec cannot fail, and these values serialize without errors.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Appends `s` as a JSON string.
fn push_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        push_serde(out, &s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Appends `"key":` (keys are plain identifiers).
fn key(out: &mut Vec<u8>, name: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends an address as its `Display` text.
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            let [a, b, c, d] = a.octets();
            push_u64(out, a.into());
            for o in [b, c, d] {
                out.push(b'.');
                push_u64(out, o.into());
            }
        }
        IpAddr::V6(_) => {
            let _ = write!(out, "{ip}");
        }
    }
}

/// Appends `Endpoint`'s `Display` text as a JSON string.
fn push_endpoint(out: &mut Vec<u8>, e: Endpoint) {
    out.push(b'"');
    match e.ip {
        IpAddr::V4(_) => push_ip(out, e.ip),
        IpAddr::V6(_) => {
            out.push(b'[');
            push_ip(out, e.ip);
            out.push(b']');
        }
    }
    out.push(b':');
    push_u64(out, e.port.into());
    out.push(b'"');
}

/// Appends `MirrorSession`'s `Display` text as a JSON string.
fn push_session(out: &mut Vec<u8>, s: &MirrorSession) {
    out.push(b'"');
    match s.encap {
        Encap::None => out.extend_from_slice(b"direct"),
        Encap::Vxlan | Encap::Geneve => {
            out.extend_from_slice(if s.encap == Encap::Vxlan {
                b"vxlan"
            } else {
                b"geneve"
            });
            if let Some(v) = s.vni {
                out.extend_from_slice(b" vni ");
                push_u64(out, v.into());
            }
            if let Some(src) = s.outer_src {
                out.extend_from_slice(b" from ");
                push_ip(out, src);
            }
        }
    }
    out.push(b'"');
}

/// Appends a direction's counters (`flows::DirOut`).
fn push_dir(out: &mut Vec<u8>, d: &DirStats) {
    let fields: [(&str, u64); 9] = [
        ("packets", d.packets),
        ("frames", d.packets + u64::from(d.duplicates)),
        ("frame_bytes", d.frame_bytes),
        ("wire_bytes", d.wire_bytes),
        ("payload_bytes", d.payload_bytes),
        ("gaps", d.gaps.into()),
        ("gap_bytes", d.gap_bytes),
        ("retransmissions", d.retransmissions.into()),
        ("duplicates", d.duplicates.into()),
    ];
    out.push(b'{');
    for (i, (name, v)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        key(out, name);
        push_u64(out, v);
    }
    out.push(b'}');
}

/// Appends a packet position (`{"file","number","offset"}`).
fn push_pos(out: &mut Vec<u8>, p: &PacketPos) {
    out.extend_from_slice(b"{\"file\":");
    push_u64(out, p.file.into());
    out.extend_from_slice(b",\"number\":");
    push_u64(out, p.number);
    out.extend_from_slice(b",\"offset\":");
    push_u64(out, p.offset);
    out.push(b'}');
}

/// Appends one TCP event as its derived `Serialize` writes it (kind flattened).
fn push_event(out: &mut Vec<u8>, e: &TcpEvent) {
    let kind = |out: &mut Vec<u8>, name: &str| {
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    };
    let num = |out: &mut Vec<u8>, name: &str, v: u64| {
        out.push(b',');
        key(out, name);
        push_u64(out, v);
    };
    let retrans = |out: &mut Vec<u8>, r: bool| {
        out.extend_from_slice(if r {
            b",\"retransmission\":true"
        } else {
            b",\"retransmission\":false"
        });
    };
    if let TcpEventKind::Icmp(_) = e.kind {
        push_serde(out, e);
        return;
    }
    out.extend_from_slice(b"{\"ts\":");
    push_i64(out, e.ts.0);
    out.extend_from_slice(b",\"pos\":");
    push_pos(out, &e.pos);
    out.extend_from_slice(match e.dir {
        Dir::ToServer => b",\"dir\":\"to_server\"",
        Dir::ToClient => b",\"dir\":\"to_client\"",
    });
    match &e.kind {
        TcpEventKind::Syn { retransmission } => {
            kind(out, "syn");
            retrans(out, *retransmission);
        }
        TcpEventKind::SynAck { retransmission } => {
            kind(out, "syn_ack");
            retrans(out, *retransmission);
        }
        TcpEventKind::Fin => kind(out, "fin"),
        TcpEventKind::FinNotCaptured => kind(out, "fin_not_captured"),
        TcpEventKind::Rst => kind(out, "rst"),
        TcpEventKind::Retransmission { len } => {
            kind(out, "retransmission");
            num(out, "len", (*len).into());
        }
        TcpEventKind::Gap { offset, len } => {
            kind(out, "gap");
            num(out, "offset", *offset);
            num(out, "len", *len);
        }
        TcpEventKind::MemorySkipped { offset, len } => {
            kind(out, "memory_skipped");
            num(out, "offset", *offset);
            num(out, "len", *len);
        }
        TcpEventKind::Conflict { offset } => {
            kind(out, "conflict");
            num(out, "offset", *offset);
        }
        // Written by serde above.
        TcpEventKind::Icmp(_) => {}
    }
    out.push(b'}');
}

/// The `close_reason` text.
fn close_reason(r: CloseReason) -> &'static str {
    match r {
        CloseReason::Closed => "closed",
        CloseReason::Expired => "expired",
        CloseReason::Evicted => "evicted",
        CloseReason::EndOfCapture => "end_of_capture",
        CloseReason::PortReused => "port_reused",
    }
}

/// Appends the connection object of `s` up to `events_dropped` and `continuation` (the same
/// text as `serde_json` writes for `flows::FlowOut` without `tls`), without the closing brace.
pub(super) fn push_flow(out: &mut Vec<u8>, s: &ConnSummary) {
    out.extend_from_slice(b"{\"id\":");
    push_u64(out, s.id.0);
    out.extend_from_slice(b",\"start\":\"");
    s.start.write_rfc3339(out);
    out.extend_from_slice(b"\",\"end\":\"");
    s.end.write_rfc3339(out);
    out.extend_from_slice(b"\",\"start_ns\":");
    push_i64(out, s.start.0);
    out.extend_from_slice(b",\"duration_s\":");
    push_serde(out, &s.end.since(s.start).as_secs_f64());
    out.extend_from_slice(b",\"session\":");
    push_session(out, &s.key.session);
    out.extend_from_slice(b",\"originator\":");
    push_endpoint(out, s.key.client);
    out.extend_from_slice(b",\"responder\":");
    push_endpoint(out, s.key.server);
    out.extend_from_slice(b",\"community_id\":");
    push_str(out, &s.key.community_id());
    out.extend_from_slice(if s.saw_syn {
        b",\"saw_syn\":true,\"state\":"
    } else {
        b",\"saw_syn\":false,\"state\":"
    });
    push_str(out, &s.state);
    out.extend_from_slice(b",\"history\":");
    push_str(out, &s.history);
    out.extend_from_slice(b",\"orig\":");
    push_dir(out, &s.dirs[0]);
    out.extend_from_slice(b",\"resp\":");
    push_dir(out, &s.dirs[1]);
    out.extend_from_slice(b",\"close_reason\":\"");
    out.extend_from_slice(close_reason(s.close_reason).as_bytes());
    out.extend_from_slice(b"\",\"first_packet\":{\"file\":");
    push_u64(out, s.first_pos.file.into());
    out.extend_from_slice(b",\"number\":");
    push_u64(out, s.first_pos.number);
    out.extend_from_slice(b"},\"events\":[");
    for (i, e) in s.events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_event(out, e);
    }
    out.extend_from_slice(b"],\"events_dropped\":");
    push_u64(out, s.events_dropped.into());
    if s.continuation {
        out.extend_from_slice(b",\"continuation\":true");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings() {
        let mut v = Vec::new();
        for n in [0u64, 9, 10, 12345, u64::MAX] {
            v.clear();
            push_u64(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
        }
        for n in [0i64, -1, i64::MIN, i64::MAX] {
            v.clear();
            push_i64(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
        }
        for s in ["SF", "ShADad", "a\"b", "x\\y", "\u{1}", "é/"] {
            v.clear();
            push_str(&mut v, s);
            assert_eq!(v, serde_json::to_vec(s).unwrap());
        }
        for ip in [
            "10.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "fd00::1",
            "::ffff:1.2.3.4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            v.clear();
            push_endpoint(&mut v, Endpoint { ip, port: 443 });
            let e = Endpoint { ip, port: 443 };
            assert_eq!(v, serde_json::to_vec(&e.to_string()).unwrap());
        }
    }
}
