//! Whole TLS sessions with known keys, as the byte streams of each direction, for tests and the
//! `tls_decrypt` fuzz target: hellos, the encrypted handshake, then HTTP/1.1 exchanges in
//! protected records; and a driver that feeds such streams (cut, with gaps) to the protocol
//! tracker with the session's key log.

use albscope::capture::{PacketPos, Timestamp};
use albscope::decode::MirrorSession;
use albscope::flow::{
    CloseReason, ConnId, ConnKey, ConnSummary, Dir, DirStats, Endpoint, FlowEvent, GapCause,
};
use albscope::protocol::decrypt::testing::Session;
use albscope::protocol::{
    AppSink, ConnContext, ConnectionRecord, HttpExchange, KeyLog, ProtocolConfig, ProtocolTracker,
};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The suites a session can use: TLS 1.3 and TLS 1.2 AEAD.
pub const SUITES: [u16; 6] = [0x1301, 0x1302, 0x1303, 0xc02f, 0xc030, 0xcca8];

/// The byte streams of a session in the order they were sent: (direction, bytes) pieces.
pub struct TlsStreams {
    /// Pieces in sending order.
    pub pieces: Vec<(Dir, Vec<u8>)>,
    /// The session's key log.
    pub keys: KeyLog,
}

/// Splits `data` into records of at most `max` bytes of `content_type`, sealed by `seal`.
fn records(
    seal: &mut albscope::protocol::decrypt::testing::Sealer,
    data: &[u8],
    max: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(max.max(1)) {
        out.extend(seal.seal(23, chunk).unwrap_or_default());
    }
    out
}

/// A session of `suite` (see [`SUITES`]) carrying `exchanges` (request, response bytes), with
/// application records of at most `record` plaintext bytes.
pub fn tls_streams(
    suite: u16,
    seed: u8,
    exchanges: &[(Vec<u8>, Vec<u8>)],
    record: usize,
) -> Option<TlsStreams> {
    tls_streams_with(suite, seed, exchanges, record, false)
}

/// [`tls_streams`]; with `key_update`, TLS 1.3 sides send a KeyUpdate after each exchange and
/// go on with the next keys.
pub fn tls_streams_with(
    suite: u16,
    seed: u8,
    exchanges: &[(Vec<u8>, Vec<u8>)],
    record: usize,
    key_update: bool,
) -> Option<TlsStreams> {
    let s = Session::new(suite, seed)?;
    let (mut hc, mut hs) = s.handshake_sealers()?;
    let ccs = vec![20, 3, 3, 0, 1, 1];
    let finished: Vec<u8> = [&[20u8, 0, 0, 12][..], &[0x46; 12]].concat();
    let mut pieces = vec![(Dir::ToServer, s.client_hello())];
    if s.tls13 {
        let mut server = s.server_hello();
        server.extend(&ccs);
        let flight: Vec<u8> = [&[8u8, 0, 0, 2, 0, 0][..], &finished].concat();
        server.extend(hs.seal(22, &flight)?);
        pieces.push((Dir::ToClient, server));
        let mut client = ccs.clone();
        client.extend(hc.seal(22, &finished)?);
        pieces.push((Dir::ToServer, client));
        let (mut ac, mut as_) = s.application_sealers()?;
        for (req, resp) in exchanges {
            let mut c = records(&mut ac, req, record);
            let mut s = records(&mut as_, resp, record);
            if key_update {
                c.extend(ac.key_update()?);
                s.extend(as_.key_update()?);
            }
            pieces.push((Dir::ToServer, c));
            pieces.push((Dir::ToClient, s));
        }
    } else {
        let mut server = s.server_hello();
        // ServerHelloDone.
        server.extend([22, 3, 3, 0, 4, 14, 0, 0, 0]);
        pieces.push((Dir::ToClient, server));
        // ClientKeyExchange (content not read), ChangeCipherSpec, Finished.
        let mut client = vec![22, 3, 3, 0, 6, 16, 0, 0, 2, 0, 0];
        client.extend(&ccs);
        client.extend(hc.seal(22, &finished)?);
        pieces.push((Dir::ToServer, client));
        let mut server = ccs.clone();
        server.extend(hs.seal(22, &finished)?);
        pieces.push((Dir::ToClient, server));
        for (req, resp) in exchanges {
            pieces.push((Dir::ToServer, records(&mut hc, req, record)));
            pieces.push((Dir::ToClient, records(&mut hs, resp, record)));
        }
    }
    Some(TlsStreams {
        pieces,
        keys: s.keys(),
    })
}

/// What [`drive`] saw come out of the tracker.
#[derive(Default, Debug)]
pub struct Driven {
    /// Statuses of the exchanges read (0 when no response), in order.
    pub statuses: Vec<u16>,
    /// Exchanges whose connection was decrypted.
    pub decrypted_exchanges: usize,
    /// The closed connection.
    pub record: Option<ConnectionRecord>,
}

impl AppSink for Driven {
    fn exchange(&mut self, conn: &ConnContext, exchange: HttpExchange) {
        self.decrypted_exchanges += usize::from(conn.decrypted);
        self.statuses
            .push(exchange.response.as_ref().map_or(0, |r| r.status));
    }
    fn closed(&mut self, record: ConnectionRecord) {
        for ex in &record.unfinished {
            self.statuses
                .push(ex.response.as_ref().map_or(0, |r| r.status));
        }
        self.record = Some(record);
    }
}

/// What happens to a stretch of the streams on the way to the tracker.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Delivered in segments of this many bytes.
    Segments(usize),
    /// This many bytes are missing (a capture gap).
    Gap(usize),
    /// The next byte is flipped (damaged in the capture).
    Flip,
}

/// Feeds `streams` to a protocol tracker holding `keys`: each piece is cut by the next `cuts`
/// (repeating the last; whole pieces when empty), then the connection closes.
pub fn drive(streams: &TlsStreams, keys: &KeyLog, cuts: &[Cut]) -> Driven {
    let ep = |o: u8, port| Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, o)),
        port,
    };
    let key = ConnKey {
        session: MirrorSession::DIRECT,
        client: ep(1, 40000),
        server: ep(2, 443),
    };
    let config = ProtocolConfig {
        keys: Arc::new(keys.clone()),
        ..ProtocolConfig::default()
    };
    let mut t = ProtocolTracker::new(config);
    let mut sink = Driven::default();
    let id = ConnId(1);
    let pos = PacketPos::default();
    t.handle(
        id,
        FlowEvent::Open {
            key,
            ts: Timestamp(0),
            pos,
            continuation: false,
            saw_syn: true,
        },
        &mut sink,
    );
    let mut off = [0u64; 2];
    let mut now = 0;
    let mut cut_at = 0;
    for (dir, bytes) in &streams.pieces {
        let mut rest: &[u8] = bytes;
        while !rest.is_empty() {
            now += 1;
            let cut = cuts
                .get(cut_at)
                .or(cuts.last())
                .copied()
                .unwrap_or(Cut::Segments(usize::MAX));
            cut_at += 1;
            let d = dir.index();
            match cut {
                Cut::Segments(n) => {
                    let (seg, tail) = rest.split_at(n.clamp(1, rest.len()));
                    t.handle(
                        id,
                        FlowEvent::Data {
                            dir: *dir,
                            ts: Timestamp(now),
                            pos,
                            offset: off[d],
                            bytes: seg,
                        },
                        &mut sink,
                    );
                    off[d] += seg.len() as u64;
                    rest = tail;
                }
                Cut::Gap(n) => {
                    let n = n.clamp(1, rest.len());
                    t.handle(
                        id,
                        FlowEvent::Gap {
                            dir: *dir,
                            ts: Timestamp(now),
                            offset: off[d],
                            len: n as u64,
                            cause: GapCause::NotCaptured,
                        },
                        &mut sink,
                    );
                    off[d] += n as u64;
                    rest = rest.get(n..).unwrap_or(&[]);
                }
                Cut::Flip => {
                    let mut b = rest.first().copied().unwrap_or(0);
                    b ^= 0x5a;
                    t.handle(
                        id,
                        FlowEvent::Data {
                            dir: *dir,
                            ts: Timestamp(now),
                            pos,
                            offset: off[d],
                            bytes: &[b],
                        },
                        &mut sink,
                    );
                    off[d] += 1;
                    rest = rest.get(1..).unwrap_or(&[]);
                }
            }
        }
    }
    let summary = closed_summary(id, key, Timestamp(now + 1), pos);
    t.handle(id, FlowEvent::Close(Box::new(summary)), &mut sink);
    sink
}

/// The summary of a connection, opened by a SYN at time 0, that closes normally at `end`,
/// every packet at `pos` (test streams fed straight to the protocol tracker).
pub fn closed_summary(id: ConnId, key: ConnKey, end: Timestamp, pos: PacketPos) -> ConnSummary {
    ConnSummary {
        id,
        key,
        start: Timestamp(0),
        end,
        first_pos: pos,
        last_pos: pos,
        saw_syn: true,
        handshake_ack: None,
        dirs: [DirStats::default(); 2],
        state: String::new(),
        history: String::new(),
        events: Vec::new(),
        events_dropped: 0,
        close_reason: CloseReason::Closed,
        continuation: false,
    }
}
