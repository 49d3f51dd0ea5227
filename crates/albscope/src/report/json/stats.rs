//! The `stats` block of the JSON document: what each layer counted, written from the layers'
//! own counters (which do not serialise themselves).

use crate::capture::InputSummary;
use crate::decode::DecodeStats;
use crate::flow::FlowStats;
use crate::pipeline::RunStats;
use crate::protocol::ProtocolStats;
use serde::Serialize;

/// `stats`.
#[derive(Serialize)]
pub(super) struct RunStatsOut<'a> {
    inputs: Vec<InputOut<'a>>,
    packets: u64,
    captured_bytes: u64,
    /// Nanoseconds since the Unix epoch.
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    decode: DecodeOut<'a>,
    flow: FlowOut,
    protocol: ProtocolOut,
    problems: &'a [String],
    #[serde(skip_serializing_if = "is_zero")]
    time_anomalies: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl<'a> RunStatsOut<'a> {
    /// The block of `s`.
    pub(super) fn new(s: &'a RunStats) -> Self {
        RunStatsOut {
            inputs: s.inputs.iter().map(InputOut::new).collect(),
            packets: s.packets,
            captured_bytes: s.captured_bytes,
            first_ts: s.first_ts.map(|t| t.0),
            last_ts: s.last_ts.map(|t| t.0),
            decode: DecodeOut::new(&s.decode),
            flow: FlowOut::new(&s.flow),
            protocol: ProtocolOut::new(&s.protocol),
            problems: &s.problems,
            time_anomalies: s.time_anomalies,
        }
    }
}

/// One of `stats.inputs`.
#[derive(Serialize)]
struct InputOut<'a> {
    file: &'a str,
    format: &'a str,
    packets: u64,
    bytes: u64,
    damage: Option<&'a str>,
    #[serde(skip_serializing_if = "is_zero")]
    time_anomalies: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_note: Option<&'a str>,
}

impl<'a> InputOut<'a> {
    fn new(i: &'a InputSummary) -> Self {
        InputOut {
            file: &i.file,
            format: &i.format,
            packets: i.packets,
            bytes: i.bytes,
            damage: i.damage.as_deref(),
            time_anomalies: i.time_anomalies,
            time_note: i.time_note.as_deref(),
        }
    }
}

/// `stats.decode`.
#[derive(Serialize)]
struct DecodeOut<'a> {
    frames: u64,
    tcp: u64,
    icmp_errors: u64,
    other: u64,
    malformed: u64,
    unknown_link: u64,
    truncated: u64,
    bad_checksum: u64,
    ip_fragments: u64,
    ip_reassembled: u64,
    vxlan: u64,
    geneve: u64,
    unknown_link_types: &'a [u32],
    bad_tunnel: u64,
    fragments_dropped: u64,
    reassembly_evicted: u64,
    #[serde(skip_serializing_if = "is_zero")]
    reassembly_expired: u64,
}

impl<'a> DecodeOut<'a> {
    fn new(d: &'a DecodeStats) -> Self {
        DecodeOut {
            frames: d.frames,
            tcp: d.tcp,
            icmp_errors: d.icmp_errors,
            other: d.other,
            malformed: d.malformed,
            unknown_link: d.unknown_link,
            truncated: d.truncated,
            bad_checksum: d.bad_checksum,
            ip_fragments: d.ip_fragments,
            ip_reassembled: d.ip_reassembled,
            vxlan: d.vxlan,
            geneve: d.geneve,
            unknown_link_types: &d.unknown_link_types,
            bad_tunnel: d.bad_tunnel,
            fragments_dropped: d.fragments_dropped,
            reassembly_evicted: d.reassembly_evicted,
            reassembly_expired: d.reassembly_expired,
        }
    }
}

/// `stats.flow`.
#[derive(Serialize)]
struct FlowOut {
    connections: u64,
    peak_open: u64,
    evicted: u64,
    expired: u64,
    duplicates: u64,
    unmatched_icmp: u64,
    matched_icmp: u64,
    segments: u64,
    gaps: u64,
    gap_bytes: u64,
    conflicts: u64,
    retransmissions: u64,
    truncated_segments: u64,
    port_reused: u64,
    closed: u64,
    open_at_end: u64,
    #[serde(skip_serializing_if = "is_zero")]
    memory_skipped_gaps: u64,
    #[serde(skip_serializing_if = "is_zero")]
    memory_skipped_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    memory_limited_connections: u64,
    #[serde(skip_serializing_if = "is_zero")]
    continuations: u64,
}

impl FlowOut {
    fn new(f: &FlowStats) -> Self {
        FlowOut {
            connections: f.connections,
            peak_open: f.peak_open,
            evicted: f.evicted,
            expired: f.expired,
            duplicates: f.duplicates,
            unmatched_icmp: f.unmatched_icmp,
            matched_icmp: f.matched_icmp,
            segments: f.segments,
            gaps: f.gaps,
            gap_bytes: f.gap_bytes,
            conflicts: f.conflicts,
            retransmissions: f.retransmissions,
            truncated_segments: f.truncated_segments,
            port_reused: f.port_reused,
            closed: f.closed,
            open_at_end: f.open_at_end,
            memory_skipped_gaps: f.memory_skipped_gaps,
            memory_skipped_bytes: f.memory_skipped_bytes,
            memory_limited_connections: f.memory_limited_connections,
            continuations: f.continuations,
        }
    }
}

/// `stats.protocol`.
#[derive(Serialize)]
struct ProtocolOut {
    requests: u64,
    responses: u64,
    response_errors: u64,
    tls_connections: u64,
    connections: u64,
    http_connections: u64,
    unknown_connections: u64,
    exchanges: u64,
    unfinished_exchanges: u64,
    requests_dropped: u64,
    orphan_responses: u64,
    queue_overflows: u64,
    tls_errors: u64,
    mid_stream_http: u64,
    events_without_open: u64,
    #[serde(skip_serializing_if = "is_zero")]
    continuations: u64,
    #[serde(skip_serializing_if = "is_zero")]
    headers_skipped: u64,
    #[serde(skip_serializing_if = "is_zero")]
    header_bytes_skipped: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_bytes_skipped: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_decrypted: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_keys_missing: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_handshake_missing: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_not_established: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_unsupported_cipher: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_decrypt_failed: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_decrypt_failures: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_records_lost: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_resyncs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    tls_unsynced: u64,
}

impl ProtocolOut {
    fn new(p: &ProtocolStats) -> Self {
        ProtocolOut {
            requests: p.requests,
            responses: p.responses,
            response_errors: p.response_errors,
            tls_connections: p.tls_connections,
            connections: p.connections,
            http_connections: p.http_connections,
            unknown_connections: p.unknown_connections,
            exchanges: p.exchanges,
            unfinished_exchanges: p.unfinished_exchanges,
            requests_dropped: p.requests_dropped,
            orphan_responses: p.orphan_responses,
            queue_overflows: p.queue_overflows,
            tls_errors: p.tls_errors,
            mid_stream_http: p.mid_stream_http,
            events_without_open: p.events_without_open,
            continuations: p.continuations,
            headers_skipped: p.headers_skipped,
            header_bytes_skipped: p.header_bytes_skipped,
            tls_bytes_skipped: p.tls_bytes_skipped,
            tls_decrypted: p.tls_decrypted,
            tls_keys_missing: p.tls_keys_missing,
            tls_handshake_missing: p.tls_handshake_missing,
            tls_not_established: p.tls_not_established,
            tls_unsupported_cipher: p.tls_unsupported_cipher,
            tls_decrypt_failed: p.tls_decrypt_failed,
            tls_decrypt_failures: p.tls_decrypt_failures,
            tls_records_lost: p.tls_records_lost,
            tls_resyncs: p.tls_resyncs,
            tls_unsynced: p.tls_unsynced,
        }
    }
}
