//! For Wireshark users: the display filter that isolates one request's packets in its capture
//! (the same packets `albscope extract` writes for it), the `albscope extract` command line
//! that writes them, and the packet comments a pcapng slice carries.
//!
//! A filter is built from typed values only: per connection (leg) the mirror session's
//! encapsulation and VNI, the inner endpoints (IPv4 or IPv6) and the connection's first and
//! last packet numbers. Frame numbers count per input file, so a request whose packets lie in
//! several inputs gets one filter per file.

use crate::capture::PacketPos;
use crate::decode::{Encap, MirrorSession};
use crate::diagnose::metrics::{ConnRef, RequestConns};
use crate::diagnose::{Analysis, Finding};
use crate::report::slice::safe_name;
use crate::report::words;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The display filter for the packets of a request in one input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileFilter {
    /// Index of the input file (into [`Analysis::inputs`]).
    pub file: u16,
    /// The Wireshark display filter.
    pub filter: String,
}

/// What a report shows a Wireshark user for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForWireshark {
    /// One display filter per input file holding the request's packets (usually one).
    pub filters: Vec<FileFilter>,
    /// The `albscope extract` command that writes the request's packets as pcapng with
    /// albscope's evidence as packet comments.
    pub extract: String,
}

/// The filter and extract command of a reported failure, when its connections are known.
pub fn for_request(a: &Analysis, f: &Finding) -> Option<ForWireshark> {
    if !f.category.is_failure() || f.outcome_not_visible {
        return None;
    }
    let conns = a.connections.get(&f.id)?;
    let filters = display_filters(conns);
    if filters.is_empty() {
        return None;
    }
    Some(ForWireshark {
        filters,
        extract: extract_command(a, f),
    })
}

/// The display filters that select exactly a request's connections' packets, one per input
/// file (in file order).
pub fn display_filters(conns: &RequestConns) -> Vec<FileFilter> {
    let mut per_file: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for c in conns.front.iter().chain(conns.back.iter()) {
        for (file, frames) in frame_ranges(c) {
            let clause = leg_clause(c, &frames);
            let legs = per_file.entry(file).or_default();
            if !legs.contains(&clause) {
                legs.push(clause);
            }
        }
    }
    per_file
        .into_iter()
        .map(|(file, legs)| FileFilter {
            file,
            filter: if legs.len() == 1 {
                legs.concat()
            } else {
                legs.iter()
                    .map(|l| format!("({l})"))
                    .collect::<Vec<_>>()
                    .join(" || ")
            },
        })
        .collect()
}

/// Which frame numbers of which file a connection spans.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Frames {
    /// From the first to the last (inclusive).
    Between(u64, u64),
    /// From this one on (the connection's end is in another file or was not seen).
    From(u64),
    /// Up to this one (the connection began in another file).
    UpTo(u64),
}

fn frame_ranges(c: &ConnRef) -> Vec<(u16, Frames)> {
    let first = c.first_packet;
    match c.last_packet {
        Some(last) if last.file == first.file => {
            vec![(
                first.file,
                Frames::Between(first.number, last.number.max(first.number)),
            )]
        }
        Some(last) => vec![
            (first.file, Frames::From(first.number)),
            (last.file, Frames::UpTo(last.number)),
        ],
        None => vec![(first.file, Frames::From(first.number))],
    }
}

/// One connection's clause: tunnel VNI, addresses, ports and its frame numbers.
fn leg_clause(c: &ConnRef, frames: &Frames) -> String {
    let mut parts = Vec::new();
    if let Some(vni) = vni_field(&c.session) {
        parts.push(vni);
    }
    parts.push(addr_field(c.client.ip));
    parts.push(addr_field(c.server.ip));
    parts.push(format!("tcp.port=={}", c.client.port));
    parts.push(format!("tcp.port=={}", c.server.port));
    parts.push(match frames {
        Frames::Between(a, b) if a == b => format!("frame.number=={a}"),
        Frames::Between(a, b) => format!("frame.number in {{{a}..{b}}}"),
        Frames::From(a) => format!("frame.number>={a}"),
        Frames::UpTo(b) => format!("frame.number<={b}"),
    });
    parts.join(" && ")
}

fn vni_field(s: &MirrorSession) -> Option<String> {
    match (s.encap, s.vni) {
        (Encap::Vxlan, Some(v)) => Some(format!("vxlan.vni=={v}")),
        (Encap::Geneve, Some(v)) => Some(format!("geneve.vni=={v}")),
        _ => None,
    }
}

fn addr_field(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip.addr=={v4}"),
        IpAddr::V6(v6) => format!("ipv6.addr=={v6}"),
    }
}

/// The file `extract` is told to write for a request: `<id>-<category>.pcapng`.
pub fn slice_file_name(f: &Finding) -> String {
    format!(
        "{}-{}.pcapng",
        safe_name(&f.id.to_string()),
        f.category.name()
    )
}

/// The `albscope extract` command line that writes a request's packets (with the options the
/// analysis was run with, so that the id names the same request).
pub fn extract_command(a: &Analysis, f: &Finding) -> String {
    let mut words_out: Vec<String> = vec![
        "albscope".into(),
        "extract".into(),
        "--request".into(),
        f.id.to_string(),
        "--format".into(),
        "pcapng".into(),
        "-w".into(),
        slice_file_name(f),
    ];
    words_out.extend(a.rerun_options.iter().cloned());
    words_out.extend(a.inputs.iter().cloned());
    words_out
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A word as a POSIX shell reads it back: as is when it holds only safe characters, else in
/// single quotes.
pub fn shell_word(w: &str) -> String {
    let safe = !w.is_empty()
        && w.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.' | '/' | ':' | '=' | ',' | '+' | '@' | '%')
        });
    if safe {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// The name of input file `file` for a filter heading ("" when unknown).
pub fn file_name(a: &Analysis, file: u16) -> &str {
    a.inputs.get(usize::from(file)).map_or("", String::as_str)
}

/// The packet comments a pcapng slice of request `f` carries: for each packet albscope cites,
/// the evidence that cites it, and for other packets of its timeline, the timeline event.
pub fn packet_comments(a: &Analysis, f: &Finding) -> Vec<(PacketPos, String)> {
    let tag = format!("albscope {} ({})", f.id, f.category.name());
    let mut out: Vec<(PacketPos, String)> = Vec::new();
    for e in &f.evidence {
        for p in e.packets() {
            out.push((p, format!("{tag}: {}", words::evidence(&a.inputs, e))));
        }
    }
    for e in &f.timeline {
        let Some(p) = e.packet else {
            continue;
        };
        if out.iter().any(|(q, _)| *q == p) {
            continue;
        }
        out.push((
            p,
            format!(
                "{tag}: {} {}",
                words::direction_label(e.direction, "->"),
                words::event(&e.kind)
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
