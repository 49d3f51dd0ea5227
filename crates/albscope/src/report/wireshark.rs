//! For Wireshark users: the display filter that isolates one request's packets in its capture
//! (the same packets `albscope extract` writes for it), the `albscope extract` command line
//! that writes them, and the packet comments a pcapng slice carries.
//!
//! A filter is built from typed values only: per connection (leg) the mirror session's
//! encapsulation and VNI, the inner endpoints (IPv4 or IPv6) and the connection's first and
//! last packet numbers. Frame numbers count per input file, so a request whose packets lie in
//! several inputs gets one filter per file.

use crate::capture::PacketPos;
use crate::decode::Encap;
use crate::diagnose::metrics::{ConnRef, RequestConns};
use crate::diagnose::{Analysis, Finding};
use crate::report::slice::safe_name;
use crate::report::words;
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

/// The display filters that select exactly a request's connections' packets (and those of
/// the connections its evidence cites, as its slice holds them), one per input file (in file
/// order).
pub fn display_filters(conns: &RequestConns) -> Vec<FileFilter> {
    // (file, clauses), in file order; a request has a few legs in one or two files.
    let mut per_file: Vec<(u16, Vec<String>)> = Vec::new();
    for c in conns
        .front
        .iter()
        .chain(conns.back.iter())
        .chain(conns.cited.iter())
    {
        for (file, frames) in frame_ranges(c) {
            let clause = leg_clause(c, &frames);
            let at = match per_file.binary_search_by_key(&file, |(f, _)| *f) {
                Ok(at) => at,
                Err(at) => {
                    per_file.insert(at, (file, Vec::new()));
                    at
                }
            };
            if let Some((_, legs)) = per_file.get_mut(at) {
                if !legs.contains(&clause) {
                    legs.push(clause);
                }
            }
        }
    }
    per_file
        .into_iter()
        .map(|(file, mut legs)| FileFilter {
            file,
            filter: if legs.len() == 1 {
                legs.pop().unwrap_or_default()
            } else {
                let mut all = String::with_capacity(legs.iter().map(|l| l.len() + 6).sum());
                for (i, l) in legs.iter().enumerate() {
                    if i > 0 {
                        all.push_str(" || ");
                    }
                    all.push('(');
                    all.push_str(l);
                    all.push(')');
                }
                all
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

/// One connection's clause: tunnel VNI, addresses, ports and its frame numbers (written into
/// one string: a report writes one per kept failure).
fn leg_clause(c: &ConnRef, frames: &Frames) -> String {
    use words::push_u64;
    let mut s = String::with_capacity(192);
    match (c.session.encap, c.session.vni) {
        (Encap::Vxlan, Some(v)) => {
            s.push_str("vxlan.vni==");
            push_u64(&mut s, u64::from(v));
            s.push_str(" && ");
        }
        (Encap::Geneve, Some(v)) => {
            s.push_str("geneve.vni==");
            push_u64(&mut s, u64::from(v));
            s.push_str(" && ");
        }
        _ => {}
    }
    push_addr_field(&mut s, c.client.ip);
    s.push_str(" && ");
    push_addr_field(&mut s, c.server.ip);
    s.push_str(" && tcp.port==");
    push_u64(&mut s, u64::from(c.client.port));
    s.push_str(" && tcp.port==");
    push_u64(&mut s, u64::from(c.server.port));
    s.push_str(" && ");
    match *frames {
        Frames::Between(a, b) if a == b => {
            s.push_str("frame.number==");
            push_u64(&mut s, a);
        }
        Frames::Between(a, b) => {
            s.push_str("frame.number in {");
            push_u64(&mut s, a);
            s.push_str("..");
            push_u64(&mut s, b);
            s.push('}');
        }
        Frames::From(a) => {
            s.push_str("frame.number>=");
            push_u64(&mut s, a);
        }
        Frames::UpTo(b) => {
            s.push_str("frame.number<=");
            push_u64(&mut s, b);
        }
    }
    s
}

fn push_addr_field(s: &mut String, ip: IpAddr) {
    use std::fmt::Write;
    match ip {
        IpAddr::V4(v4) => {
            // Digit by digit: the text of `Ipv4Addr`'s `Display`.
            s.push_str("ip.addr==");
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                // At most three digits, pushed one by one.
                if o >= 100 {
                    s.push(char::from(b'0' + o / 100));
                }
                if o >= 10 {
                    s.push(char::from(b'0' + o / 10 % 10));
                }
                s.push(char::from(b'0' + o % 10));
            }
        }
        IpAddr::V6(v6) => {
            // Writing to a `String` cannot fail.
            let _ = write!(s, "ipv6.addr=={v6}");
        }
    }
}

/// The file `extract` is told to write for a request: `<id>-<category>.pcapng`.
pub fn slice_file_name(f: &Finding) -> String {
    slice_file_name_of(&f.id.to_string(), f)
}

/// [`slice_file_name`] with `f`'s id already written (`id`).
fn slice_file_name_of(id: &str, f: &Finding) -> String {
    let mut name = safe_name(id);
    name.push('-');
    name.push_str(f.category.name());
    name.push_str(".pcapng");
    name
}

/// The `albscope extract` command line that writes a request's packets (with the options the
/// analysis was run with, so that the id names the same request).
pub fn extract_command(a: &Analysis, f: &Finding) -> String {
    let id = f.id.to_string();
    let file = slice_file_name_of(&id, f);
    let fixed = [
        "albscope",
        "extract",
        "--request",
        id.as_str(),
        "--format",
        "pcapng",
        "-w",
        file.as_str(),
    ];
    let mut out = String::with_capacity(128);
    let words_out = fixed
        .into_iter()
        .chain(a.rerun_options.iter().map(String::as_str))
        .chain(a.inputs.iter().map(String::as_str));
    for (i, w) in words_out.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_shell_word(&mut out, w);
    }
    out
}

/// A word as a POSIX shell reads it back: as is when it holds only safe characters, else in
/// single quotes.
pub fn shell_word(w: &str) -> String {
    let mut out = String::with_capacity(w.len() + 2);
    push_shell_word(&mut out, w);
    out
}

/// [`shell_word`] appended to `out`.
fn push_shell_word(out: &mut String, w: &str) {
    // By bytes: a byte of a character outside ASCII is never safe, as the character is not.
    let safe = !w.is_empty()
        && w.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'_' | b'-' | b'.' | b'/' | b':' | b'=' | b',' | b'+' | b'@' | b'%'
                )
        });
    if safe {
        out.push_str(w);
    } else {
        out.push('\'');
        out.push_str(&w.replace('\'', r"'\''"));
        out.push('\'');
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
