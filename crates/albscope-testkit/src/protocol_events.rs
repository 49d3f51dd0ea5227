//! Transcript helpers for the protocol-layer tests: build `FlowEvent`s from client (`>>>`) and
//! server (`<<<`) chunks with timestamps and collect what the `ProtocolTracker` reports.
#![allow(dead_code)]

use albscope::capture::{PacketPos, Timestamp};
use albscope::decode::MirrorSession;
use albscope::flow::{
    CloseReason, ConnId, ConnKey, ConnSummary, Dir, DirStats, Endpoint, FlowEvent,
};
use albscope::protocol::{
    AppSink, ConnContext, ConnectionRecord, HttpExchange, ProtocolConfig, ProtocolTracker,
};
use std::net::{IpAddr, Ipv4Addr};

/// One step of a transcript; times in milliseconds.
#[derive(Clone, Debug)]
pub enum Step {
    /// `>>>` client bytes.
    C(i64, Vec<u8>),
    /// `<<<` server bytes.
    S(i64, Vec<u8>),
    /// FIN from that direction.
    Fin(i64, Dir),
    /// RST from that direction.
    Rst(i64, Dir),
    /// Missing bytes in that direction.
    Gap(i64, Dir, u64),
}

/// Client bytes at `ms`.
pub fn c(ms: i64, s: impl AsRef<[u8]>) -> Step {
    Step::C(ms, s.as_ref().to_vec())
}
/// Server bytes at `ms`.
pub fn s(ms: i64, s: impl AsRef<[u8]>) -> Step {
    Step::S(ms, s.as_ref().to_vec())
}

/// Parses a text transcript: lines `>>> <ms> <text>` / `<<< <ms> <text>` where the text uses
/// `\r\n` escapes; `fin> <ms>` / `fin< <ms>` / `rst> <ms>` / `rst< <ms>`.
pub fn transcript(t: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for line in t.lines() {
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        let (tag, rest) = line.split_at(line.find(' ').unwrap_or(line.len()));
        let rest = rest.trim_start();
        let (ms, text) = rest.split_at(rest.find(' ').unwrap_or(rest.len()));
        let ms: i64 = ms.parse().expect("ms");
        let text = text.strip_prefix(' ').unwrap_or(text);
        let bytes = text.replace("\\r", "\r").replace("\\n", "\n").into_bytes();
        out.push(match tag {
            ">>>" => Step::C(ms, bytes),
            "<<<" => Step::S(ms, bytes),
            "fin>" => Step::Fin(ms, Dir::ToServer),
            "fin<" => Step::Fin(ms, Dir::ToClient),
            "rst>" => Step::Rst(ms, Dir::ToServer),
            "rst<" => Step::Rst(ms, Dir::ToClient),
            other => panic!("bad tag {other}"),
        });
    }
    out
}

/// What the tracker reported.
#[derive(Default)]
pub struct Collected {
    /// Every exchange, in the order reported.
    pub exchanges: Vec<HttpExchange>,
    /// The connection context of each exchange.
    pub contexts: Vec<ConnContext>,
    /// Every connection record, in the order closed.
    pub records: Vec<ConnectionRecord>,
}

impl AppSink for Collected {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        self.contexts.push(conn.clone());
        self.exchanges.push(exchange);
    }
    fn closed(&mut self, record: ConnectionRecord) {
        self.records.push(record);
    }
}

impl Collected {
    /// The only connection record.
    pub fn record(&self) -> &ConnectionRecord {
        assert_eq!(self.records.len(), 1, "one connection record");
        &self.records[0]
    }
}

/// A timestamp `ms` milliseconds after a fixed epoch.
pub fn ts(ms: i64) -> Timestamp {
    Timestamp(1_700_000_000_000_000_000 + ms * 1_000_000)
}

/// The connection key every stream of these tests uses.
pub fn key() -> ConnKey {
    ConnKey {
        session: MirrorSession::DIRECT,
        client: Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            port: 40000,
        },
        server: Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2)),
            port: 80,
        },
    }
}

fn summary(end_ms: i64) -> ConnSummary {
    ConnSummary {
        id: ConnId(1),
        key: key(),
        start: ts(0),
        end: ts(end_ms),
        first_pos: PacketPos::default(),
        last_pos: PacketPos::default(),
        saw_syn: true,
        handshake_ack: None,
        dirs: [DirStats::default(); 2],
        state: "SF".to_string(),
        history: String::new(),
        events: Vec::new(),
        events_dropped: 0,
        close_reason: CloseReason::Closed,
        continuation: false,
    }
}

/// Runs a transcript through a fresh tracker; every data step is cut into pieces by `split`
/// (which returns the piece lengths), all pieces keeping the step's time and packet.
pub fn run_split(
    steps: &[Step],
    config: ProtocolConfig,
    mut split: impl FnMut(usize) -> Vec<usize>,
) -> Collected {
    let mut t = ProtocolTracker::new(config);
    let mut out = Collected::default();
    let conn = ConnId(1);
    let mut offsets = [0u64; 2];
    let mut last = 0;
    t.handle(
        conn,
        FlowEvent::Open {
            key: key(),
            ts: ts(0),
            pos: PacketPos::default(),
            continuation: false,
            saw_syn: true,
        },
        &mut out,
    );
    for (n, step) in steps.iter().enumerate() {
        let pos = PacketPos {
            file: 0,
            number: n as u64 + 1,
            offset: 0,
        };
        match step {
            Step::C(ms, b) | Step::S(ms, b) => {
                let dir = if matches!(step, Step::C(..)) {
                    Dir::ToServer
                } else {
                    Dir::ToClient
                };
                last = *ms;
                let mut at = 0;
                for len in split(b.len()) {
                    let piece = &b[at..at + len];
                    t.handle(
                        conn,
                        FlowEvent::Data {
                            dir,
                            ts: ts(*ms),
                            pos,
                            offset: offsets[dir.index()],
                            bytes: piece,
                        },
                        &mut out,
                    );
                    offsets[dir.index()] += len as u64;
                    at += len;
                }
                assert_eq!(at, b.len());
            }
            Step::Fin(ms, dir) => {
                last = *ms;
                t.handle(
                    conn,
                    FlowEvent::Fin {
                        dir: *dir,
                        ts: ts(*ms),
                        pos,
                    },
                    &mut out,
                );
            }
            Step::Rst(ms, dir) => {
                last = *ms;
                t.handle(
                    conn,
                    FlowEvent::Rst {
                        dir: *dir,
                        ts: ts(*ms),
                        pos,
                    },
                    &mut out,
                );
            }
            Step::Gap(ms, dir, len) => {
                last = *ms;
                t.handle(
                    conn,
                    FlowEvent::Gap {
                        dir: *dir,
                        ts: ts(*ms),
                        offset: offsets[dir.index()],
                        len: *len,
                        cause: albscope::flow::GapCause::NotCaptured,
                    },
                    &mut out,
                );
                offsets[dir.index()] += len;
            }
        }
    }
    t.handle(
        conn,
        FlowEvent::Close(Box::new(summary(last + 1))),
        &mut out,
    );
    assert_eq!(t.open_connections(), 0, "state freed on close");
    out
}

/// Runs a transcript with each step delivered whole.
pub fn run(steps: &[Step]) -> Collected {
    run_split(steps, ProtocolConfig::default(), |n| vec![n])
}

/// Everything reported, as text, for comparisons (the exchanges and, per record, the fields
/// that do not depend on how the bytes were split into packets).
pub fn fingerprint(c: &Collected) -> String {
    let records: Vec<_> = c
        .records
        .iter()
        .map(|r| {
            (
                r.app,
                &r.unfinished,
                r.finished_exchanges,
                r.last_exchange_end,
                &r.tls,
                &r.unknown_excerpt,
            )
        })
        .collect();
    format!("{:?} {records:?}", c.exchanges)
}
