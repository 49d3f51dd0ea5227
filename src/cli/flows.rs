//! `albscope flows`: the connection list, one line (or JSON object) per TCP connection.
//!
//! Table and `--format json` output collect the connection summaries (small, fixed size apart
//! from their capped event lists) and print them ordered by start time: memory is
//! O(connections in the capture). `--format ndjson` streams instead: each connection is written
//! the moment the tracker closes it (in close order), so memory stays O(open connections).

use super::analyze::InputArgs;
use super::flows_ndjson;
use super::io::{self, Inputs};
use super::{CliError, EXIT_OK, EXIT_PARTIAL};
use albscope::capture::{CaptureReader, PacketPos, Timestamp};
use albscope::flow::Dir;
use albscope::flow::{CloseReason, ConnId, ConnSummary, DirStats, FlowEvent, FlowSink, FlowStats};
use albscope::pipeline::{run_app, run_flows, Clock, PipelineConfig, RunStats};
use albscope::protocol::{
    tls_cipher_name, tls_version_name, Alpn, AppSink, ConnContext, ConnectionRecord, DecryptInfo,
    DecryptStatus, HttpExchange,
};
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::io::Write;

use std::process::ExitCode;

const FORMAT_HELP: &str = "\
Output formats:
  table   one line per connection, ordered by start (default)
  json    an array of connection objects, ordered by start
  ndjson  one connection object per line, written as each connection closes

Connection object fields:
  id              connection number, in order of first packet
  start, end      first and last packet, RFC 3339 UTC with microseconds
  start_ns        first packet, nanoseconds since the Unix epoch
  duration_s      end - start in seconds
  session         mirror session: \"direct\", \"vxlan vni 7 from 10.0.0.5\", \"geneve ...\"
  originator      ip:port of the SYN sender (a guess when saw_syn is false)
  responder       ip:port of the other endpoint
  community_id    Community ID v1 of the TCP 4-tuple (seed 0), as Zeek, Suricata, Arkime,
                  Elastic and Wireshark write it: search their logs for it
  saw_syn         whether the originator's SYN was captured
  state           Zeek conn_state (S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH)
  history         Zeek history letters (originator upper case, responder lower case)
  orig, resp      counters of the originator->responder and responder->originator directions:
                  packets (duplicates counted once), frames (duplicates included), frame_bytes
                  (captured frames' original length, as tshark -z conv,tcp counts bytes),
                  wire_bytes (inner IP length), payload_bytes, gaps, gap_bytes,
                  retransmissions, duplicates
  close_reason    closed, expired, evicted, end_of_capture, port_reused
  first_packet    {file, number}: input file index and 1-based frame number
  events          TCP events (SYN, SYN-ACK, FIN, RST, ICMP, retransmission, gap, conflict)
  events_dropped  events not listed because of the per-connection cap
  tls             only with TLS keys (--tls-keylog, or a pcapng carrying them), on TLS
                  connections: decrypted (bool), status (decrypted, keys_missing,
                  handshake_missing, not_established, unsupported_cipher, failed), version,
                  cipher, alpn, records, plaintext_bytes, failures, lost_records, lost_bytes,
                  resyncs, unsynced (directions left opaque after a gap)";

/// Output format of `albscope flows`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FlowsFormat {
    /// Aligned table for people, in start order (every connection is held until the end).
    Table,
    /// One JSON array, in start order (every connection is held until the end).
    Json,
    /// One JSON object per line, streamed as connections close (memory stays flat: use it
    /// for big captures).
    Ndjson,
}

/// Arguments of `albscope flows`.
#[derive(Args, Debug)]
#[command(after_help = FORMAT_HELP)]
pub struct FlowsArgs {
    /// What to read.
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FlowsFormat::Table)]
    pub format: FlowsFormat,
    /// Most TCP connections tracked at once (about 3 KiB each); past it the least recently
    /// active one is closed out and counted as evicted (once, also when it is seen again).
    #[arg(long = "max-connections", value_name = "N", default_value_t = 400_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Memory (MiB) for bytes all connections buffer together (out-of-order data); past it
    /// the connection whose buffer would grow gives it up, counted as skipped (memory limit).
    #[arg(long = "max-buffer-memory", value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub max_buffer_memory_mib: u64,
    /// Threads (default: all cores): with 2 or more, reading and decoding run on one, the
    /// connection tracking on another. Any number gives the same output.
    #[arg(long = "threads", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
}

/// Per-direction counters as printed.
#[derive(Serialize)]
struct DirOut {
    packets: u64,
    frames: u64,
    frame_bytes: u64,
    wire_bytes: u64,
    payload_bytes: u64,
    gaps: u32,
    gap_bytes: u64,
    retransmissions: u32,
    duplicates: u32,
}

impl From<&DirStats> for DirOut {
    fn from(d: &DirStats) -> Self {
        DirOut {
            packets: d.packets,
            frames: d.packets + d.duplicates as u64,
            frame_bytes: d.frame_bytes,
            wire_bytes: d.wire_bytes,
            payload_bytes: d.payload_bytes,
            gaps: d.gaps,
            gap_bytes: d.gap_bytes,
            retransmissions: d.retransmissions,
            duplicates: d.duplicates,
        }
    }
}

/// First packet reference as printed.
#[derive(Serialize)]
struct PosOut {
    file: u16,
    number: u64,
}

/// One connection as printed (field names documented in `FORMAT_HELP`).
#[derive(Serialize)]
struct FlowOut<'a> {
    id: ConnId,
    start: String,
    end: String,
    start_ns: Timestamp,
    duration_s: f64,
    session: String,
    originator: String,
    responder: String,
    community_id: String,
    saw_syn: bool,
    state: &'a str,
    history: &'a str,
    orig: DirOut,
    resp: DirOut,
    close_reason: CloseReason,
    first_packet: PosOut,
    events: &'a [albscope::flow::TcpEvent],
    events_dropped: u32,
    /// Seen again after the connection table closed it out early (counted once).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    continuation: bool,
    /// Decryption outcome (with TLS keys, on TLS connections).
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<DecryptOut>,
}

/// A connection's decryption outcome as printed.
#[derive(Serialize)]
struct DecryptOut {
    decrypted: bool,
    status: DecryptStatus,
    version: Option<String>,
    cipher: Option<String>,
    alpn: Option<Alpn>,
    records: u64,
    plaintext_bytes: u64,
    failures: u64,
    lost_records: u64,
    lost_bytes: u64,
    resyncs: u64,
    unsynced: Vec<&'static str>,
}

impl DecryptOut {
    fn new(d: &DecryptInfo) -> Self {
        DecryptOut {
            decrypted: d.decrypted(),
            status: d.status,
            version: d.version.map(tls_version_name),
            cipher: d.cipher.map(tls_cipher_name),
            alpn: d.alpn.clone(),
            records: d.records,
            plaintext_bytes: d.plaintext_bytes,
            failures: d.failures,
            lost_records: d.lost_records,
            lost_bytes: d.lost_bytes,
            resyncs: d.resyncs,
            unsynced: d
                .unsynced
                .iter()
                .map(|d| match d {
                    Dir::ToServer => "orig",
                    Dir::ToClient => "resp",
                })
                .collect(),
        }
    }
}

fn to_out((s, tls): &(ConnSummary, Option<DecryptInfo>)) -> FlowOut<'_> {
    let PacketPos { file, number, .. } = s.first_pos;
    FlowOut {
        id: s.id,
        start: s.start.to_rfc3339(),
        end: s.end.to_rfc3339(),
        start_ns: s.start,
        duration_s: s.end.since(s.start).as_secs_f64(),
        session: s.key.session.to_string(),
        originator: s.key.client.to_string(),
        responder: s.key.server.to_string(),
        community_id: s.key.community_id(),
        saw_syn: s.saw_syn,
        state: &s.state,
        history: &s.history,
        orig: DirOut::from(&s.dirs[0]),
        resp: DirOut::from(&s.dirs[1]),
        close_reason: s.close_reason,
        first_packet: PosOut { file, number },
        events: &s.events,
        events_dropped: s.events_dropped,
        continuation: s.continuation,
        tls: tls.as_ref().map(DecryptOut::new),
    }
}

/// A closed connection with its decryption outcome (when keys were given).
type Closed = (ConnSummary, Option<DecryptInfo>);

/// One NDJSON line (newline included) of a closed connection: the text `serde_json` writes
/// for [`to_out`]'s value, written directly.
fn write_line(line: &mut Vec<u8>, (summary, tls): &Closed) {
    // A line is about 600 bytes plus 150 per event: one reservation for most lines.
    line.reserve(1024 + 160 * summary.events.len());
    flows_ndjson::push_flow(line, summary);
    if let Some(d) = tls {
        line.extend_from_slice(b",\"tls\":");
        // Writing to a Vec cannot fail; the outcome serializes without errors.
        let _ = serde_json::to_writer(&mut *line, &DecryptOut::new(d));
    }
    line.extend_from_slice(b"}\n");
}

/// Collects summaries (table, json) or streams them (ndjson: written here, or handed to a
/// writer thread).
struct Collector<W: Write> {
    stream: Option<W>,
    summaries: Vec<Closed>,
    error: Option<std::io::Error>,
    /// The NDJSON line being written (reused).
    line: Vec<u8>,
    /// With a writer thread: closed connections go to it in batches.
    handoff: Option<HandOff>,
}

/// Closed connections per batch handed to the NDJSON writer thread.
const WRITE_BATCH: usize = 256;

/// Batches the writer thread's queue holds before the tracker waits.
const WRITE_QUEUE: usize = 4;

/// The tracker's end of the NDJSON writer thread.
struct HandOff {
    batch: Vec<Closed>,
    to_writer: std::sync::mpsc::SyncSender<Vec<Closed>>,
    /// Batches the writer is done with (their capacity reused).
    spare: std::sync::mpsc::Receiver<Vec<Closed>>,
    /// The writer stopped (an output error, which it returns).
    stopped: bool,
}

impl HandOff {
    fn send(&mut self) {
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(WRITE_BATCH));
        let full = std::mem::replace(&mut self.batch, next);
        self.stopped |= self.to_writer.send(full).is_err();
    }
}

impl<W: Write> FlowSink for Collector<W> {
    fn on_flow_event(&mut self, _conn: ConnId, event: FlowEvent<'_>) {
        let FlowEvent::Close(summary) = event else {
            return;
        };
        self.emit((*summary, None));
    }
}

/// With TLS keys the protocol layer runs too (to decrypt): connections come closed from it.
impl<W: Write> AppSink for Collector<W> {
    fn exchange(&mut self, _conn: &ConnContext, _exchange: HttpExchange) {}
    fn closed(&mut self, record: ConnectionRecord) {
        self.emit((record.tcp, record.decryption.map(|d| *d)));
    }
}

impl<W: Write> Clock for Collector<W> {
    fn tick(&mut self, _now: Timestamp) {}
}

impl<W: Write> Collector<W> {
    fn emit(&mut self, closed: Closed) {
        if let Some(h) = &mut self.handoff {
            if !h.stopped {
                h.batch.push(closed);
                if h.batch.len() >= WRITE_BATCH {
                    h.send();
                }
            }
            return;
        }
        match &mut self.stream {
            Some(out) => {
                if self.error.is_some() {
                    return;
                }
                let line = &mut self.line;
                line.clear();
                write_line(line, &closed);
                if let Err(e) = out.write_all(line) {
                    self.error = Some(e);
                }
            }
            None => self.summaries.push(closed),
        }
    }
}

/// Runs `albscope flows`.
pub fn run(args: FlowsArgs) -> Result<ExitCode, CliError> {
    let inputs = Inputs::prepare(&args.input.paths(), false)?;
    let mut reader = CaptureReader::open_named(&inputs.named)
        .map_err(|e| CliError::Unreadable(e.to_string()))?;
    args.input.warn_key_log()?;
    let mut config = args.input.pipeline_config()?;
    config.flow.max_connections = usize::try_from(args.max_connections).unwrap_or(usize::MAX);
    config.flow.max_buffer_memory =
        usize::try_from(args.max_buffer_memory_mib << 20).unwrap_or(usize::MAX);
    config.threads = match args.threads {
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    // With TLS keys (given, or at the start of a pcapng) the protocol layer decrypts; else
    // only the flow layer runs.
    let decrypt = !config.protocol.keys.is_empty() || reader.has_tls_key_logs();
    let mut out = io::stdout();
    let stats = if args.format == FlowsFormat::Ndjson && config.threads > 1 {
        drop(out);
        return finish(ndjson_with_writer(decrypt, &mut reader, &config)?);
    } else if args.format == FlowsFormat::Ndjson {
        let mut sink = Collector {
            stream: Some(&mut out),
            summaries: Vec::new(),
            error: None,
            line: Vec::new(),
            handoff: None,
        };
        let stats = run_with(decrypt, &mut reader, &config, &mut sink);
        if let Some(e) = sink.error {
            return Err(CliError::Output(e));
        }
        stats
    } else {
        let mut sink: Collector<std::io::Sink> = Collector {
            stream: None,
            summaries: Vec::new(),
            error: None,
            line: Vec::new(),
            handoff: None,
        };
        let stats = run_with(decrypt, &mut reader, &config, &mut sink);
        let mut flows = sink.summaries;
        flows.sort_by_key(|(s, _)| (s.start, s.id));
        if args.format == FlowsFormat::Json {
            let all: Vec<FlowOut<'_>> = flows.iter().map(to_out).collect();
            serde_json::to_writer_pretty(&mut out, &all).map_err(std::io::Error::from)?;
            writeln!(out)?;
        } else {
            write_table(&mut out, &flows, &stats.flow)?;
        }
        stats
    };
    out.flush()?;
    finish(stats)
}

/// `--format ndjson` with a writer thread: the lines are made and written there, in the order
/// the connections close (one queue), while this thread tracks. Memory: at most
/// [`WRITE_QUEUE`] + 2 batches of [`WRITE_BATCH`] closed connections.
fn ndjson_with_writer(
    decrypt: bool,
    reader: &mut CaptureReader,
    config: &PipelineConfig,
) -> Result<RunStats, CliError> {
    let (to_writer, batches) = std::sync::mpsc::sync_channel::<Vec<Closed>>(WRITE_QUEUE);
    let (spare_tx, spare) = std::sync::mpsc::channel::<Vec<Closed>>();
    std::thread::scope(|scope| {
        let writer = std::thread::Builder::new()
            .name("albscope-write".into())
            .spawn_scoped(scope, move || -> std::io::Result<()> {
                let mut out = io::stdout();
                let mut line = Vec::new();
                for mut batch in batches.iter() {
                    for closed in batch.drain(..) {
                        line.clear();
                        write_line(&mut line, &closed);
                        out.write_all(&line)?;
                    }
                    // The tracker may be done already: then the batch is simply dropped.
                    let _ = spare_tx.send(batch);
                }
                out.flush()
            })
            .map_err(CliError::Output)?;
        let mut sink: Collector<std::io::Sink> = Collector {
            stream: None,
            summaries: Vec::new(),
            error: None,
            line: Vec::new(),
            handoff: Some(HandOff {
                batch: Vec::with_capacity(WRITE_BATCH),
                to_writer,
                spare,
                stopped: false,
            }),
        };
        let stats = run_with(decrypt, reader, config, &mut sink);
        if let Some(mut h) = sink.handoff.take() {
            if !h.batch.is_empty() && !h.stopped {
                h.send();
            }
        }
        match writer.join() {
            Ok(written) => written.map_err(CliError::Output)?,
            Err(panic) => std::panic::resume_unwind(panic),
        }
        Ok(stats)
    })
}

/// Reports the run's problems and gives the exit code.
fn finish(stats: RunStats) -> Result<ExitCode, CliError> {
    for problem in &stats.problems {
        eprintln!("albscope: {problem}");
    }
    if stats.packets > 0 && stats.decode.tcp == 0 {
        eprintln!(
            "albscope: {} packets read but no TCP segment decoded (mirror traffic on another UDP port? try --vxlan-port)",
            stats.packets
        );
    }
    Ok(ExitCode::from(if stats.problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }))
}

/// The table's word for a decryption outcome.
fn decrypt_word(s: DecryptStatus) -> &'static str {
    match s {
        DecryptStatus::Decrypted => "decrypted",
        DecryptStatus::KeysMissing => "opaque(no-keys)",
        DecryptStatus::HandshakeMissing => "opaque(no-hello)",
        DecryptStatus::NotEstablished => "no-session",
        DecryptStatus::UnsupportedCipher => "opaque(cipher)",
        DecryptStatus::Failed => "opaque(keys-failed)",
    }
}

/// Runs the flow layer, or with `decrypt` the protocol layer too.
fn run_with<W: Write>(
    decrypt: bool,
    reader: &mut CaptureReader,
    config: &PipelineConfig,
    sink: &mut Collector<W>,
) -> RunStats {
    if decrypt {
        run_app(reader, config, sink)
    } else {
        run_flows(reader, config, sink)
    }
}

/// Writes the aligned table.
fn write_table(out: &mut impl Write, flows: &[Closed], stats: &FlowStats) -> std::io::Result<()> {
    let header = [
        "start (UTC)",
        "duration",
        "originator",
        "responder",
        "session",
        "pkts o>r/r>o",
        "bytes o>r/r>o",
        "gaps",
        "state",
        "history",
    ];
    let rows: Vec<[String; 10]> = flows
        .iter()
        .map(|(s, tls)| {
            let (o, r) = (&s.dirs[0], &s.dirs[1]);
            let guess = if s.saw_syn { "" } else { "?" };
            [
                s.start.to_rfc3339(),
                format!("{:.6}", s.end.since(s.start).as_secs_f64()),
                format!("{}{guess}", s.key.client),
                s.key.server.to_string(),
                s.key.session.to_string(),
                format!(
                    "{}/{}",
                    o.packets + o.duplicates as u64,
                    r.packets + r.duplicates as u64
                ),
                format!("{}/{}", o.frame_bytes, r.frame_bytes),
                (o.gaps as u64 + r.gaps as u64).to_string(),
                s.state.clone(),
                match tls {
                    // With TLS keys: the decryption outcome after the history.
                    Some(d) => format!("{}  tls:{}", s.history, decrypt_word(d.status)),
                    None => s.history.clone(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let right = [
        false, true, false, false, false, true, true, true, false, false,
    ];
    let line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
        let mut first = true;
        let mut text = String::new();
        for ((cell, w), r) in cells.iter().zip(widths.iter()).zip(right.iter()) {
            if !first {
                text.push_str("  ");
            }
            first = false;
            if *r {
                text.push_str(&format!("{cell:>w$}"));
            } else {
                text.push_str(&format!("{cell:<w$}"));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    line(out, &header)?;
    for row in &rows {
        line(out, row)?;
    }
    let saw_guess = flows.iter().any(|(s, _)| !s.saw_syn);
    writeln!(
        out,
        "{} connection{}; packets and bytes count captured frames (duplicates included){}",
        flows.len(),
        if flows.len() == 1 { "" } else { "s" },
        if saw_guess {
            "; ? = SYN not captured, roles guessed"
        } else {
            ""
        }
    )?;
    // Notable tracker counters, only when non-zero.
    let notes: Vec<String> = [
        (stats.gaps, "gaps"),
        (stats.gap_bytes, "bytes missing"),
        (stats.truncated_segments, "truncated segments"),
        (stats.retransmissions, "data retransmissions"),
        (stats.conflicts, "conflicting retransmissions"),
        (stats.duplicates, "duplicate frames"),
        (stats.port_reused, "ports reused"),
        (stats.matched_icmp, "ICMP errors"),
        (stats.unmatched_icmp, "ICMP errors matching no connection"),
        (stats.expired, "expired"),
        (stats.evicted, "evicted (table full)"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if !notes.is_empty() {
        writeln!(out, "{}", notes.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use albscope::decode::{Encap, IcmpError, MirrorSession};
    use albscope::flow::{ConnKey, Endpoint, TcpEvent, TcpEventKind};

    /// A summary with every event kind, odd strings and extreme numbers.
    fn summary(session: MirrorSession, client: &str, server: &str) -> ConnSummary {
        let pos = PacketPos {
            file: 3,
            number: 17,
            offset: 1 << 40,
        };
        let kinds = [
            TcpEventKind::Syn {
                retransmission: false,
            },
            TcpEventKind::SynAck {
                retransmission: true,
            },
            TcpEventKind::Fin,
            TcpEventKind::FinNotCaptured,
            TcpEventKind::Rst,
            TcpEventKind::Icmp(IcmpError {
                v6: false,
                icmp_type: 3,
                code: 1,
                description: "destination \"unreachable\"".into(),
                quoted_src: "10.0.0.1".parse().unwrap(),
                quoted_dst: "fd00::2".parse().unwrap(),
                quoted_src_port: 1,
                quoted_dst_port: 2,
                quoted_seq: None,
            }),
            TcpEventKind::Retransmission { len: u32::MAX },
            TcpEventKind::Gap {
                offset: 0,
                len: u64::MAX,
            },
            TcpEventKind::MemorySkipped { offset: 5, len: 6 },
            TcpEventKind::Conflict { offset: 9 },
        ];
        let dirs = [
            DirStats {
                packets: 1,
                wire_bytes: 2,
                payload_bytes: 3,
                gap_bytes: 4,
                gaps: 5,
                retransmissions: 6,
                duplicates: u32::MAX,
                frame_bytes: u64::MAX / 2,
            },
            DirStats::default(),
        ];
        ConnSummary {
            id: ConnId(u64::MAX),
            key: ConnKey {
                session,
                client: Endpoint {
                    ip: client.parse().unwrap(),
                    port: 0,
                },
                server: Endpoint {
                    ip: server.parse().unwrap(),
                    port: 65535,
                },
            },
            start: Timestamp(-1_234_567_891),
            end: Timestamp(i64::MAX),
            first_pos: pos,
            last_pos: pos,
            saw_syn: false,
            handshake_ack: None,
            dirs,
            state: "RSTO".into(),
            history: "Sh\\ad\u{7}".into(),
            events: kinds
                .into_iter()
                .enumerate()
                .map(|(i, kind)| TcpEvent {
                    ts: Timestamp(i as i64 - 3),
                    pos,
                    dir: if i % 2 == 0 {
                        Dir::ToServer
                    } else {
                        Dir::ToClient
                    },
                    kind,
                })
                .collect(),
            events_dropped: 7,
            close_reason: CloseReason::PortReused,
            continuation: true,
        }
    }

    #[test]
    fn ndjson_lines_are_serde_json_text() {
        let sessions = [
            MirrorSession::DIRECT,
            MirrorSession {
                encap: Encap::Vxlan,
                vni: Some(u32::MAX),
                outer_src: Some("10.9.8.7".parse().unwrap()),
            },
            MirrorSession {
                encap: Encap::Geneve,
                vni: None,
                outer_src: Some("fd00::5".parse().unwrap()),
            },
            MirrorSession {
                encap: Encap::Vxlan,
                vni: Some(0),
                outer_src: None,
            },
        ];
        let reasons = [
            CloseReason::Closed,
            CloseReason::Expired,
            CloseReason::Evicted,
            CloseReason::EndOfCapture,
            CloseReason::PortReused,
        ];
        for (i, session) in sessions.into_iter().enumerate() {
            for (client, server) in [("10.0.0.1", "255.255.255.0"), ("::1", "fd00::1")] {
                let mut s = summary(session, client, server);
                s.close_reason = reasons[i];
                s.continuation = i % 2 == 0;
                s.saw_syn = i % 2 == 1;
                if i == 1 {
                    s.events.clear();
                    s.start = Timestamp(1_796_589_211_495_753_000);
                    s.end = Timestamp(1_796_589_211_496_092_000);
                }
                let tls = (i == 2).then(|| DecryptInfo {
                    version: Some(0x0304),
                    unsynced: vec![Dir::ToClient],
                    ..DecryptInfo::default()
                });
                let closed = (s, tls);
                let mut want = serde_json::to_vec(&to_out(&closed)).unwrap();
                want.push(b'\n');
                let mut line = Vec::new();
                write_line(&mut line, &closed);
                assert_eq!(
                    String::from_utf8_lossy(&line),
                    String::from_utf8_lossy(&want)
                );
            }
        }
    }
}
